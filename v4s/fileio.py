"""Atomic file writes: a reader, or a run killed mid-write, sees the old file or the new one, never half.

One helper for every writer in v4s. The temporary file sits beside the target (so the rename stays
on one file system), under a name unique to the writing process and thread, so that concurrent
workers writing the same target never collide; it keeps the target's suffix, so writers that pick
a format from the name (``np.savez``, mp4 encoders) still work.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: the names of atomic_path's temporary files (what a writer killed mid-write leaves behind)
TMP_GLOB = ".*.tmp*"


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yields a temporary path to write ``path``'s new content to (a file or a directory); on a clean
    exit it replaces ``path`` (fsynced, mode 0644 for files), on an error it is removed and ``path``
    is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(path.suffixes[-1:])
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}-{uuid.uuid4().hex[:8]}.tmp{suffix}")
    try:
        yield tmp
        if tmp.is_dir():
            if path.exists():
                shutil.rmtree(path)
        else:
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def append_csv_row(path: str | Path, row: dict) -> None:
    """Append ``row`` to the CSV log at ``path``, writing the header (its keys) when the file is new."""
    import csv

    path = Path(path)
    new = not path.exists()
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)


def _sha256(path: Path, opener=open) -> hashlib._Hash:
    """sha256 of a file read in 1 MiB blocks (checkpoints can be large)."""
    h = hashlib.sha256()
    with opener(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h


def digest_path(path: str | Path) -> str:
    """sha256 of a file's content (a ``.gz`` file's uncompressed content, so that recompressing it changes
    nothing), or of a directory's files (their bytes as stored) with their relative names; documentation
    (``*.md``) is left out."""
    path = Path(path)
    if not path.is_dir():
        return _sha256(path, gzip.open if path.suffix == ".gz" else open).hexdigest()
    h = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file() and p.suffix != ".md"):
        h.update(file.relative_to(path).as_posix().encode() + b"\0")
        h.update(_sha256(file).digest())
    return h.hexdigest()


__all__ = ["TMP_GLOB", "append_csv_row", "atomic_path", "digest_path", "write_bytes_atomic", "write_text_atomic"]
