"""One headless OpenGL context per process, created on first use.

Every EmbeddedSim of a process renders through this context and releases its own
GL objects when it closes; the context itself lives until the process ends (or
:func:`release_context`). Creating and destroying EGL contexts repeatedly leaks
driver memory (about 50 kB each with Mesa), so sharing one is what keeps
create/close cycles flat.

A process forked after its parent created an EGL context hangs on its first render.
The context is therefore created lazily (never at import), and using it from a
forked child raises an error that says to use the ``forkserver`` or ``spawn``
start method instead.
"""

from __future__ import annotations

import os
import threading

import moderngl

_lock = threading.Lock()
_context: moderngl.Context | None = None
_owner_pid: int | None = None
_device: int | None = None

EGL_HELP = (
    "v4s renders headless through EGL. On a CPU machine install Mesa's EGL "
    "(Debian/Ubuntu: apt-get install libegl1 libegl-mesa0 libgl1-mesa-dri). On an NVIDIA GPU "
    "make sure the driver's EGL vendor file is found, e.g. "
    "export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/share/glvnd/egl_vendor.d/10_nvidia.json"
)


class GLContextError(RuntimeError):
    """No usable OpenGL context."""


def context_created() -> bool:
    """Whether this process (or a parent it was forked from) has created the GL context."""
    return _context is not None


def get_context(device_index: int = 0) -> moderngl.Context:
    """The process's GL context, creating it on first call (EGL, headless, OpenGL 3.3 core)."""
    global _context, _owner_pid, _device
    with _lock:
        if _context is not None:
            if _owner_pid != os.getpid():
                raise GLContextError(
                    "this process was forked after its parent created an OpenGL context, and such a child "
                    "hangs on its first render; start worker processes with the 'forkserver' or 'spawn' "
                    "method (e.g. multiprocessing.get_context('forkserver'))")
            if device_index != _device:
                raise GLContextError(
                    f"the process already renders on EGL device {_device}; one process renders on one device "
                    f"(asked for {device_index})")
            return _context
        try:
            kwargs = {"backend": "egl", "require": 330}
            if device_index:
                kwargs["device_index"] = device_index
            _context = moderngl.create_standalone_context(**kwargs)
        except Exception as e:  # glcontext raises plain Exceptions with terse messages
            raise GLContextError(f"could not create an EGL OpenGL context ({e}). {EGL_HELP}") from None
        _owner_pid, _device = os.getpid(), device_index
        return _context


def release_context() -> None:
    """Destroy the process's context (the next :func:`get_context` creates a new one)."""
    global _context, _owner_pid, _device
    with _lock:
        if _context is not None and _owner_pid == os.getpid():
            _context.release()
        _context, _owner_pid, _device = None, None, None
