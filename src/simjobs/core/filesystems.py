"""Which file system holds a path, and what that means for a simulations log.

A log kept in an NFS home or on Lustre/GPFS scratch is read from other login nodes,
where two things a local disk guarantees may not hold: SQLite's WAL mode needs shared
memory between its processes (impossible across hosts), and ``flock`` may be local to
each client (Lustre's ``localflock``, NFS's ``local_lock``) or not work at all (Lustre's
``noflock``). This module says which file system a path is on (``statfs`` type,
cross-checked with ``/proc/self/mountinfo`` for the name and the mount options) and
turns OS errors into lines a person can act on.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
from dataclasses import dataclass, field
from typing import Optional

from .errors import SimjobsError

# statfs f_type magic numbers (linux/magic.h and the file systems' own headers).
_MAGIC_NAMES = {
    0xEF53: "ext4",  # ext2/3/4 share it
    0x01021994: "tmpfs",
    0x58465342: "xfs",
    0x9123683E: "btrfs",
    0x794C7630: "overlay",
    0x2FC12FC1: "zfs",
    0x858458F6: "ramfs",
    0x6969: "nfs",
    0x0BD00BD0: "lustre",
    0x47504653: "gpfs",
    0xFF534D42: "cifs",
    0xFE534D42: "smb3",
    0x517B: "smbfs",
    0x65735546: "fuse",
    0x00C36400: "ceph",
    0x5346414F: "afs",
    0x6B414653: "afs",
    0x01021997: "9p",
    0x19830326: "beegfs",
    0x7461636F: "ocfs2",
    0x01161970: "gfs2",
    0xAAD7AAEA: "panfs",
}
_NETWORK_TYPES = ("nfs", "lustre", "gpfs", "cifs", "smb", "fuse", "ceph", "afs", "9p",
                  "beegfs", "ocfs2", "gfs2", "panfs", "glusterfs", "orangefs", "pvfs2",
                  "wekafs")


@dataclass(frozen=True)
class FileSystem:
    """The file system a path lives on.

    Attributes
    ----------
    type : str
        Its name as the kernel gives it (``ext4``, ``tmpfs``, ``nfs4``, ``lustre``,
        ``fuse.sshfs``...), or ``unknown``.
    magic : int or None
        The ``statfs`` f_type, or None where statfs could not be called.
    mount_point : str
        Where it is mounted ("" when unknown).
    options : frozenset of str
        The mount and file-system options (``flock``, ``localflock``, ``nolock``...).
    """

    type: str
    magic: Optional[int] = None
    mount_point: str = ""
    options: frozenset = field(default_factory=frozenset)

    @property
    def network(self) -> bool:
        """True for a file system other hosts may share (NFS, Lustre, GPFS, CIFS/SMB,
        FUSE such as sshfs, Ceph...). FUSE counts: it cannot be told from here whether
        what is behind it is local; ``fuseblk`` (a local disk through FUSE) does not."""
        if self.type == "fuseblk":
            return False
        return self.type.startswith(_NETWORK_TYPES)

    def describe(self) -> str:
        """``nfs4 on /home`` (or just the type when the mount point is unknown)."""
        return f"{self.type} on {self.mount_point}" if self.mount_point else self.type


_libc = None


def _statfs_type(path: str) -> Optional[int]:
    """statfs(2)'s f_type for ``path`` (os.statvfs does not give it), or None."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    # struct statfs begins with f_type (a long on every Linux ABI); 256 bytes hold the
    # whole struct on all of them.
    buf = ctypes.create_string_buffer(256)
    if _libc.statfs(os.fsencode(path), buf) != 0:
        return None
    return ctypes.c_long.from_buffer(buf).value & 0xFFFFFFFF


def _unescape(field_text: str) -> str:
    # mountinfo writes space, tab, newline and backslash as octal escapes.
    for code in ("\\040", "\\011", "\\012", "\\134"):
        field_text = field_text.replace(code, chr(int(code[1:], 8)))
    return field_text


def _mount_entry(path: str, dev: int) -> Optional[tuple[str, str, frozenset]]:
    """(mount point, type, options) of the mount holding ``path`` from mountinfo: the
    entries of its device, the deepest mount point above the path winning."""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    wanted = f"{os.major(dev)}:{os.minor(dev)}"
    best: Optional[tuple[str, str, frozenset]] = None
    fallback: Optional[tuple[str, str, frozenset]] = None
    for line in lines:
        left, sep, right = line.partition(" - ")
        a, b = left.split(), right.split()
        if not sep or len(a) < 6 or len(b) < 2:
            continue
        point = _unescape(a[4])
        if not (path == point or path.startswith(point.rstrip("/") + "/")):
            continue
        opts = frozenset(a[5].split(",")) | frozenset(b[2].split(",") if len(b) > 2 else ())
        entry = (point, b[0], opts)
        if a[2] == wanted and (best is None or len(point) >= len(best[0])):
            best = entry
        if fallback is None or len(point) >= len(fallback[0]):
            fallback = entry  # btrfs subvolumes report another device than mountinfo
    return best or fallback


def _existing(path: str) -> str:
    """``path`` or its nearest existing ancestor (a log may not exist yet)."""
    path = os.path.abspath(os.fsdecode(path))
    while not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def file_system(path) -> FileSystem:
    """The file system holding ``path`` (or, for a path not created yet, its directory).

    The statfs type decides what the file system is; mountinfo adds the kernel's name
    (``nfs4`` rather than ``nfs``), the mount point and the options. Never raises: what
    cannot be found is ``unknown``.

    Examples
    --------
    >>> file_system("/proc").type
    'proc'
    """
    path = os.path.realpath(_existing(path))
    magic = _statfs_type(path)
    try:
        entry = _mount_entry(path, os.stat(path).st_dev)
    except OSError:
        entry = None
    by_magic = _MAGIC_NAMES.get(magic) if magic is not None else None
    if entry is None:
        return FileSystem(by_magic or "unknown", magic)
    point, kind, opts = entry
    # The kernel's name, unless statfs says it is a network file system that mountinfo
    # names otherwise (e.g. GPFS mounted through a wrapper).
    if by_magic and by_magic in _NETWORK_TYPES and not kind.startswith(by_magic):
        kind = by_magic
    return FileSystem(kind, magic, point, opts)


def free_bytes(path) -> Optional[int]:
    """Bytes an unprivileged user may still write on the file system of ``path``."""
    try:
        st = os.statvfs(_existing(path))
    except OSError:
        return None
    return st.f_bavail * st.f_frsize


def size_text(n: int) -> str:
    """``0 B``, ``12 KB``, ``3.4 GB``: a size a person reads at a glance."""
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.3g} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover - the loop always returns


def flock_unsupported_text(path) -> str:
    """Why ``flock`` on ``path`` failed with ENOLCK/EOPNOTSUPP, and the mount option
    that would make it work, for the file system it is on."""
    fs = file_system(path)
    where = fs.describe()
    if fs.type.startswith("lustre"):
        return (f"the Lustre file system ({where}) is mounted without the 'flock' option; "
                "ask the administrators to mount it with -o flock (localflock is not "
                "shared between login nodes), or keep the log on another file system")
    if fs.type.startswith("nfs"):
        return (f"the NFS mount ({where}) has no working lock service; mount it with "
                "locking enabled (not 'nolock'; for NFSv3 the rpc.statd/lockd services "
                "must run), or keep the log on another file system")
    if fs.type.startswith(("cifs", "smb")):
        return (f"the SMB/CIFS mount ({where}) refuses locks; mount it without 'nobrl', "
                "or keep the log on another file system")
    if fs.type.startswith("fuse"):
        return (f"the FUSE file system ({where}) does not implement locks; keep the log "
                "on another file system")
    return f"the file system ({where}) does not support flock; keep the log on another one"


def os_reason(exc: OSError) -> str:
    """What the system said, in lower case for the middle of a sentence: ``permission
    denied``, ``no space left on device``."""
    return (exc.strerror or type(exc).__name__).lower()


def os_error_text(exc: OSError, path, doing: str = "writing") -> str:
    """One line for an OSError met ``doing`` something to ``path``, naming the file,
    and for a full disk the space left and the mount, e.g. ``no space left on device
    writing runs.csv.journal (0 B free on /scratch)``."""
    name = os.path.basename(os.fsdecode(path)) or os.fsdecode(path)
    text = f"{os_reason(exc)} {doing} {name}"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        free = free_bytes(path)
        fs = file_system(path)
        where = fs.mount_point or os.path.dirname(os.path.abspath(os.fsdecode(path)))
        if free is not None:
            text += f" ({size_text(free)} free on {where})"
        text += "; free some space there (or raise the quota)"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        text += (f" ({os.fsdecode(path)}); make it writable (chmod u+w; chattr -i if it "
                 "is immutable) or open the log read-only")
    return text


class LogWriteError(SimjobsError, OSError):
    """Writing a file of a log failed (disk full, file made read-only...): an OSError
    whose message names the file and, for a full disk, the space left there.

    Parameters
    ----------
    exc : OSError
        What the system call raised.
    path : str or os.PathLike
        The file being written.
    doing : str, optional
        What was done to it, by default "writing".
    """

    def __init__(self, exc: OSError, path, doing: str = "writing"):
        OSError.__init__(self, exc.errno, exc.strerror, os.fsdecode(path))
        self.text = os_error_text(exc, path, doing)

    def __str__(self) -> str:
        return self.text
