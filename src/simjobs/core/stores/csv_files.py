"""File I/O of the CSV log: its file names, reads that never follow a link, appends,
fsync, truncation that keeps what it cuts, and the ``.commit`` witness file.

Nothing here knows the text inside the files (see :mod:`.csv_codec`).
"""

from __future__ import annotations

import os
import secrets
import time
from typing import Optional

from ..errors import SimjobsError
from ..filesystems import LogWriteError

JOURNAL_SUFFIX = ".journal"
META_SUFFIX = ".meta"
COMMIT_SUFFIX = ".commit"
TMP_SUFFIX = ".tmp"
_HEAD_MAX = 512  # a meta header is far shorter
WITNESS_DIGITS = 16


class CsvPaths:
    """The files of the CSV log at ``path`` (see the :mod:`.csv_store` docstring).

    Parameters
    ----------
    path : str
        The main CSV file.
    """

    __slots__ = ("path", "journal", "meta", "commit", "directory")

    def __init__(self, path: str):
        self.path = path
        self.journal = path + JOURNAL_SUFFIX
        self.meta = path + META_SUFFIX
        self.commit = path + COMMIT_SUFFIX
        self.directory = os.path.dirname(os.path.abspath(path))


def fsync_dir(directory: str) -> None:
    """fsync a directory (after creating, renaming or removing a file in it)."""
    fd = os.open(directory or ".", os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_new_file(path: str, data: bytes, mode: Optional[int] = None,
                   exclusive: bool = False) -> None:
    """Write ``data`` to a fresh file at ``path`` and fsync it (``exclusive``: a file
    that must not exist yet); on failure, remove it and raise LogWriteError."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW
    flags |= os.O_EXCL if exclusive else os.O_TRUNC
    fd = os.open(path, flags, 0o666)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        write_all(fd, data)
        os.fsync(fd)
    except OSError as exc:
        try:
            os.unlink(path)  # no torn file left behind
        except OSError:
            pass
        raise LogWriteError(exc, path) from exc
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` (``os.write`` may write less)."""
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def cannot_read(path: str, exc: OSError) -> SimjobsError:
    """The one-line error for a file that cannot be read."""
    return SimjobsError(f"cannot read {path}: {exc.strerror or exc}; fix its permissions")


def read_opt(path: str) -> Optional[bytes]:
    """The bytes of a file, or None when it does not exist."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise SimjobsError(f"{path} is a directory, not a log file; choose another path") from None
    except OSError as exc:
        raise cannot_read(path, exc) from None


def read_fd(path: str) -> tuple[Optional[bytes], Optional[int]]:
    """The bytes of a file and a descriptor kept open on it (the caller closes it), or
    (None, None) when it does not exist."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        if os.path.isdir(path):
            raise SimjobsError(
                f"{path} is a directory, not a log file; choose another path") from None
        raise cannot_read(path, exc) from None
    try:
        return pread_all(fd, 0), fd
    except BaseException:
        os.close(fd)
        raise


def pread_all(fd: int, offset: int) -> bytes:
    """Everything from ``offset`` to the end of the file open as ``fd``."""
    chunks = []
    while True:
        chunk = os.pread(fd, max(1 << 16, os.fstat(fd).st_size - offset), offset)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        offset += len(chunk)


def read_head(path: str) -> Optional[bytes]:
    """The first line of a file (its first bytes if it has no line break), or None when
    it does not exist."""
    try:
        with open(path, "rb") as f:
            data = f.read(_HEAD_MAX)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise cannot_read(path, exc) from None
    return data[:data.find(b"\n") + 1] or data


def head_of(data: Optional[bytes]) -> Optional[bytes]:
    """What :func:`read_head` gives for a file holding ``data``."""
    if data is None:
        return None
    head = data[:_HEAD_MAX]
    return head[:head.find(b"\n") + 1] or head


def new_generation() -> str:
    """A new random generation id: written into the meta file and the journal at each
    compaction, so that a reader never mistakes a new file for the one it loaded."""
    return secrets.token_hex(8)


def read_commit(path: str) -> tuple[Optional[str], int]:
    """(generation, length) a ``.commit`` file records: how many bytes of that
    generation's journal are committed and synced; (None, 0) when there is none or it
    is unreadable (it only witnesses: the log itself is whole then)."""
    try:
        with open(path, "rb") as f:
            data = f.read(64)
    except OSError:
        return None, 0
    gen, _, length = data.decode("ascii", "replace").rstrip("\n").partition(",")
    if len(data) != len(gen) + WITNESS_DIGITS + 2 or not length.isdigit():
        return None, 0
    return gen, int(length)


def write_commit(fd: int, gen: str, size: int) -> None:
    """Record in the ``.commit`` file open as ``fd`` that the first ``size`` bytes of
    generation ``gen``'s journal are committed and synced (rewritten in place)."""
    os.pwrite(fd, b"%s,%0*d\n" % (gen.encode(), WITNESS_DIGITS, size), 0)


def close_fd(fd: Optional[int]) -> None:
    """Close ``fd`` if it is one, ignoring errors."""
    if fd is not None:
        try:
            os.close(fd)
        except OSError:
            pass


def cut_back(fd: int, size: int) -> None:
    """Truncate the file open as ``fd`` to ``size`` bytes and fsync it (undoing a
    failed append)."""
    os.ftruncate(fd, size)
    os.fsync(fd)


def truncate_keeping(path: str, size: int, directory: str) -> str:
    """Cut the file at ``size``, first copying the bytes cut off to a new file beside it
    (nothing is deleted); returns that file's name."""
    fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW)
    try:
        data = pread_all(fd, size)
        for n in range(1000):
            kept = f"{path}.dropped-{time.strftime('%Y%m%d-%H%M%S')}-{n}"
            try:
                write_new_file(kept, data, os.fstat(fd).st_mode & 0o7777, exclusive=True)
                break
            except FileExistsError:
                continue
        fsync_dir(directory)
        cut_back(fd, size)
    finally:
        os.close(fd)
    return kept


def snippet(data: bytes) -> str:
    """The start of some bytes, quoted, for a warning."""
    text = data.decode("utf-8", "replace")
    return repr(text if len(text) <= 60 else text[:57] + "...")
