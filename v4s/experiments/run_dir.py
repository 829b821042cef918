"""A benchmark run's out dir: one writer at a time, and a record of the config its results belong to.

``RunDirectory(out).open(config, fingerprint, resume)`` is what ``v4s-bench`` does before its first
episode:

1. **Lock.** It takes an advisory lock (``fcntl.flock``) on ``out/.v4s-bench.lock``, which holds the
   owner's pid. A second run on the same out dir fails at once and names that pid. An out dir that
   cannot be written fails here too, before anything runs.
2. **Fingerprint.** ``out/run.json`` holds the run's resolved config and its *fingerprint*: what
   decides the results (task, simulator, agent settings, checkpoint digests, dataset digest, split).
   A rerun whose fingerprint differs refuses, naming each field that differs; ``resume=false``
   starts afresh and keeps the old run beside it in ``out/replaced-<UTC time>/``. Settings that do not
   change results (``num_envs``, ``video``, ``progress``, ``num_episodes``, threads) may differ.
3. **Leftovers.** Temporary files of a run that was killed mid-write are removed (the lock
   guarantees that no other writer owns them).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from v4s.experiments.records import strict_json
from v4s.fileio import TMP_GLOB, write_text_atomic

LOCK_NAME = ".v4s-bench.lock"
RUN_FILE = "run.json"
#: what a run leaves in its out dir (moved aside together by resume=false)
RUN_ARTEFACTS = ("episodes.jsonl", "summary.json", "summary.md", RUN_FILE, "videos")


class RunConflictError(RuntimeError):
    """The out dir belongs to another run: a different config, or a writer that is still running."""


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"task": {"name": "x"}}`` -> ``{"task.name": "x"}``."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """``"field: old -> new"`` for every field where two fingerprints differ."""
    a, b = flatten(old), flatten(new)
    missing = object()
    return [f"{key}: {a.get(key, '(absent)')!r} -> {b.get(key, '(absent)')!r}"
            for key in sorted(set(a) | set(b)) if a.get(key, missing) != b.get(key, missing)]


class RunDirectory:
    """The out dir of one benchmark run (see the module docstring)."""

    def __init__(self, out: str | Path):
        self.out = Path(out)
        self._lock_file = None

    @property
    def run_file(self) -> Path:
        return self.out / RUN_FILE

    def lock(self) -> None:
        """Take the out dir's lock, or fail naming the pid that holds it (or why the dir is not writable)."""
        try:
            self.out.mkdir(parents=True, exist_ok=True)
            handle = open(self.out / LOCK_NAME, "a+")  # noqa: SIM115 (held until release)
        except OSError as e:
            raise PermissionError(f"out={self.out}: cannot write the run's out dir ({e.strerror}); "
                                  "choose a writable out=") from None
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise RunConflictError(f"out={self.out}: another v4s-bench (pid {holder}) is writing this run; "
                                   "wait for it to finish, or choose another out=") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._lock_file = handle

    def release(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()  # closing the descriptor drops the lock
            self._lock_file = None

    def __enter__(self) -> RunDirectory:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def has_results(self) -> bool:
        return (self.out / "episodes.jsonl").exists()

    def recorded(self) -> dict[str, Any] | None:
        """The fingerprint in ``run.json``, or None when the out dir has none."""
        if not self.run_file.exists():
            return None
        try:
            return json.loads(self.run_file.read_text())["fingerprint"]
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise RunConflictError(f"{self.run_file}: not a run record ({e}); pass resume=false to start afresh "
                                   "(the old run is kept beside it), or choose another out=") from None

    def set_aside(self) -> Path | None:
        """Move the previous run's artefacts into ``out/replaced-<UTC time>/``; returns that folder."""
        present = [self.out / name for name in RUN_ARTEFACTS if (self.out / name).exists()]
        if not present:
            return None
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        folder = self.out / f"replaced-{stamp}"
        n = 1
        while folder.exists():
            n += 1
            folder = self.out / f"replaced-{stamp}-{n}"
        folder.mkdir()
        for path in present:
            shutil.move(str(path), str(folder / path.name))
        return folder

    def remove_leftovers(self) -> list[Path]:
        """Delete the temporary files a killed writer left behind (the caller holds the lock)."""
        leftovers = [p for folder in (self.out, self.out / "videos") for p in folder.glob(TMP_GLOB) if p.is_file()]
        for path in leftovers:
            path.unlink()
        return leftovers

    def open(self, config: Mapping[str, Any], fingerprint: Mapping[str, Any], resume: bool = True) -> Path | None:
        """Lock the out dir (unless :meth:`lock` already did), check the fingerprint against the recorded one when
        the out dir holds results, record this one, clear leftovers. Returns where an old run was set aside
        (``resume=false``), else None."""
        fingerprint = json.loads(strict_json(fingerprint))  # as run.json will hold it (tuples are lists there)
        if self._lock_file is None:
            self.lock()
        try:
            aside = None
            if not resume:
                aside = self.set_aside()
            elif self.has_results():  # a run.json without results is a run that never began: it is replaced
                old = self.recorded()
                if old is None:
                    raise RunConflictError(
                        f"out={self.out} holds episodes.jsonl but no {RUN_FILE}: its results were made before v4s "
                        "recorded run configs, so they cannot be checked against this config. Pass resume=false to "
                        "start afresh (the old run is kept beside it), or choose another out=")
                changed = differences(old, fingerprint)
                if changed:
                    raise RunConflictError(
                        f"out={self.out} holds results of another config; these fields differ (recorded -> now):\n  "
                        + "\n  ".join(changed)
                        + "\nPass resume=false to start afresh (the old run is kept beside it), or choose another out=")
            self.remove_leftovers()
            # a resumed run keeps when the run began; the config of this invocation replaces the old one
            created = json.loads(self.run_file.read_text()).get("created") if self.run_file.exists() else None
            record = {"fingerprint": dict(fingerprint), "config": dict(config),
                      "created": created or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            write_text_atomic(self.run_file, strict_json(record, indent=2, sort_keys=True) + "\n")
            return aside
        except BaseException:
            self.release()
            raise


__all__ = ["RUN_FILE", "RunConflictError", "RunDirectory", "differences", "flatten"]
