"""Files written whole or not at all: a temporary name, then a rename.

A process can be killed at any instant (Ctrl-C, out of memory, a full disk).
A file written in place is then half-written: a truncated model, a card that
no longer matches its model, a CSV cut mid-row. Every file the package writes
for a user goes through :func:`atomic_path`: the content goes to a temporary
file in the same folder, is flushed to disk, and only then replaces the target
with :func:`os.replace`, which is atomic on POSIX and Windows. A reader sees
the old file or the new one, never a mixture; a failed write leaves the old
file and no temporary behind.

Examples
--------
>>> import tempfile, pathlib
>>> target = pathlib.Path(tempfile.mkdtemp()) / "card.json"
>>> write_text(target, '{"threshold": 0.4}\\n')
>>> target.read_text()
'{"threshold": 0.4}\\n'
>>> sha256_of(target)[:12]
'24fe84eacb55'
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_path", "write_text", "write_bytes", "sha256_of"]


@contextlib.contextmanager
def atomic_path(target, *, suffix: str | None = None):
    """Yield a temporary path beside ``target``; on success it replaces ``target``.

    Parameters
    ----------
    target : path
        The file to (re)write. Its folder is created when missing.
    suffix : str, optional
        Suffix of the temporary name (default: the target's own), for writers
        that insist on one (Keras wants ``.keras``).

    Yields
    ------
    Path
        Where to write. If the block raises, the temporary file is removed and
        ``target`` is left as it was.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.csv"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("a,b\\n")
    >>> target.read_text(), sorted(p.name for p in target.parent.iterdir())
    ('a,b\\n', ['out.csv'])
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(
        dir=target.parent,
        prefix=f".{target.name}.",
        suffix=target.suffix if suffix is None else suffix,
    )
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:  # on disk before the rename makes it live
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(target, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``target`` atomically (see :func:`atomic_path`)."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding=encoding)


def write_bytes(target, data: bytes) -> None:
    """Write ``data`` to ``target`` atomically (see :func:`atomic_path`)."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def sha256_of(path, chunk: int = 1 << 20) -> str:
    """The sha256 hex digest of a file, read in chunks.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "x"
    >>> _ = f.write_bytes(b"abc")
    >>> sha256_of(f)[:16]
    'ba7816bf8f01cfea'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()
