"""Writing a whole file at once, so that a reader sees the old file or the new one.

One implementation for every file simjobs replaces as a whole (the inbox's requests
and replies, exports, the app's settings and themes, job files): the data goes to a
temporary file in the target's directory, created with ``O_CREAT|O_EXCL|O_NOFOLLOW`` so
that no file or link someone else planted is ever written through, then is renamed
over the target. Nothing here imports anything above the standard library.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from typing import Optional, Union

__all__ = ["atomic_write", "TEMP_SUFFIX"]

#: How the temporary files end (``.<name>.<random>.tmp``); one left behind by a
#: process killed mid-write can be recognised, and removed, by that.
TEMP_SUFFIX = ".tmp"

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def atomic_write(
    path: Union[str, os.PathLike],
    data: Union[bytes, str],
    *,
    private: bool = False,
    replace: bool = True,
    durable: bool = True,
    dir_fd: Optional[int] = None,
) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write. With ``dir_fd``, a plain name inside that directory.
    data : bytes or str
        The whole content; text is written as UTF-8.
    private : bool
        Create the file with mode 0600. Otherwise 0666 less the umask, as ``open`` does.
    replace : bool
        Replace an existing ``path`` (the default). With False, raise FileExistsError
        instead, even if the file appears while this call runs (a hard link, not a
        rename, puts the new file in place).
    durable : bool
        fsync the file before the rename and the directory after it, so the new
        content survives a power cut (the default). False leaves both to the kernel:
        for files on a hot path whose loss the caller can repair.
    dir_fd : int, optional
        An open directory to write in: ``path`` is then a name inside it, and the
        directory is never looked up again by path (it may be renamed meanwhile).

    Raises
    ------
    OSError
        The file could not be written; the target is unchanged and the temporary
        file is removed.
    FileExistsError
        ``replace`` is False and ``path`` exists.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    path = os.fsdecode(path)
    if dir_fd is None:
        directory, name = os.path.split(path)
        dfd = os.open(directory or ".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    else:
        if os.sep in path:
            raise ValueError(f"with dir_fd, give a plain file name, not {path!r}")
        name, dfd = path, dir_fd
    try:
        # The name stays under the 255-byte limit however long the target's name is.
        stem = name[:200]
        while True:
            tmp = f".{stem}.{secrets.token_hex(6)}{TEMP_SUFFIX}"
            try:
                fd = os.open(tmp, _CREATE, 0o600 if private else 0o666, dir_fd=dfd)
                break
            except FileExistsError:
                continue  # a clash of 48 random bits: draw again
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                if durable:
                    os.fsync(fd)
            finally:
                os.close(fd)
            if replace:
                os.rename(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
            else:
                os.link(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd, follow_symlinks=False)
                os.unlink(tmp, dir_fd=dfd)
            if durable:
                os.fsync(dfd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=dfd)
            raise
    finally:
        if dir_fd is None:
            os.close(dfd)
