"""Atomic file writing, shared by every step that writes outputs.

A file is written under a fresh temporary name in the target's own folder and moved into place
with :func:`os.replace` (atomic within one file system), so an interrupted run leaves the
previous file whole and readers never see a half-written one.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

__all__ = ["atomic_write"]


def atomic_write(path: str | os.PathLike, write: Callable[[str], object]) -> Path:
    """Write ``path`` atomically.

    Parameters
    ----------
    path : the file to (re)write; its folder is created if missing.
    write : called with the temporary file's path (a ``str``); it must create and fill that file.

    Returns
    -------
    Path
        ``path``.  On any error (or interruption) the temporary file is removed and ``path`` is
        left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # a fresh name in the same folder (os.replace is atomic only within one file system); the
    # writer creates it, so the file gets the usual permissions (mkstemp would make it 0600)
    tmp = str(path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
