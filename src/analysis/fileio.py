"""Atomic file writing, shared by every step that writes outputs.

A file is written under a fresh temporary name in the target's own folder and moved into place
with :func:`os.replace` (atomic within one file system), so an interrupted run leaves the
previous file whole and readers never see a half-written one.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path

__all__ = ["atomic_write", "csv_text", "write_csv"]


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


_QUOTED_FIELD = re.compile(r'("(?:[^"]|"")*")')


def csv_text(frame, **options) -> str:
    """A DataFrame as CSV text whose rows end in ``\n`` and whose fields holding a line break
    (CR or LF) are all quoted.

    The csv module behind ``DataFrame.to_csv`` quotes a field only for the characters of its
    line terminator: with ``\n`` ends a bare carriage return went out unquoted, and Excel and
    most CSV readers end the row there (``"\r=1+1"`` in a county name started a new row that
    Excel would run as a formula).  So the text is made with ``\r\n`` ends, which quotes every
    field holding either character, and the row ends — the only ``\r\n`` left outside quotes
    (an unquoted field holds no ``"``) — become ``\n``.  Data without line breaks give exactly
    the bytes of ``to_csv(lineterminator="\n")``.

    Parameters
    ----------
    frame : pandas.DataFrame
    **options
        Passed to ``DataFrame.to_csv`` (not ``lineterminator``, ``quoting`` or ``path_or_buf``).

    Returns
    -------
    str
    """
    text = frame.to_csv(lineterminator="\r\n", **options)
    # split with one group: odd items are the quoted fields, left as they are
    parts = _QUOTED_FIELD.split(text)
    return "".join(part if i % 2 else part.replace("\r\n", "\n") for i, part in enumerate(parts))


def write_csv(frame, path: str | os.PathLike, *, encoding: str = "utf-8", **options) -> Path:
    """Write :func:`csv_text` of ``frame`` to ``path`` atomically (:func:`atomic_write`).

    Parameters
    ----------
    frame : pandas.DataFrame
    path : path-like
    encoding : str
        ``"utf-8-sig"`` puts the byte-order mark Excel needs to show Chinese text.
    **options
        Passed to ``DataFrame.to_csv`` (``index``, ``float_format``, …).

    Returns
    -------
    Path
    """
    data = csv_text(frame, **options).encode(encoding)
    return atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))
