"""The SQLite simulations log (``.db``, ``.sqlite``, ``.sqlite3``).

Schema (WAL mode; a rollback journal on a network file system, see
:meth:`SqliteStore._journal_mode_for`):

``meta(key, value)``
    ``format`` and ``input_dim``.
``records``
    One row per job: ``job_id`` (primary key), ``ord`` (the order records were added),
    ``x1`` .. ``xd`` (the coordinates) and ``output`` (a float or NULL): columns with no
    declared type, so that SQLite keeps each float bit for bit (a REAL column stores
    -0.0 as 0), ``status``, ``level``,
    ``interface_name``, the extras ``created``, ``changed``, ``reason``,
    ``resubmit_of``, ``resubmitted_as`` (the ids joined by ``;``: a job may be
    resubmitted more than once; an older log holds one id), and ``seq``: the number of
    the write transaction that last touched the row (indexed), which readers use to load only what changed.
``history(id, seq, job_id, status, time)``
    One row per status change, appended: the audit trail. Each record also carries its
    history in two compact columns (``hist_codes``: one letter per status,
    ``hist_times``: the times' reprs), written in the same transaction, so that opening
    and refreshing never have to read this table.

Each :meth:`SqliteStore.add` / :meth:`SqliteStore.apply` is one ``BEGIN IMMEDIATE ...
COMMIT`` transaction with ``synchronous=FULL`` (the WAL is fsync'd at every commit).

``<db>.commit`` records the number of the last transaction known to be on disk (written
after its fsync). SQLite drops the end of a WAL file that was cut, or all of a removed
one, without a word: a database whose last transaction is older than that number has
lost committed changes, and is opened read-only saying so (``simjobs repair`` accepts
the loss, after a backup).
"""

from __future__ import annotations

import errno
import gc
import os
import sqlite3
import threading
import urllib.parse
import warnings
from collections.abc import Sequence
from typing import Optional

from .. import filesystems
from ..errors import LogFormatError, SimjobsError, SimulationsLogLookupError, excerpt
from ..records import UNSET, LogChange, LogRecord, decode_links, encode_links, history_columns
from ..types import JobStatus
from .base import LogStore, check_log_directory, open_own_file, validate_output
from .csv_codec import check_histories, encode_history, pack_histories, parse_each
from .csv_files import COMMIT_SUFFIX

FORMAT = "simjobs-log 1"
_COMMIT_DIGITS = 16


def _read_commit(path: str) -> int:
    """The transaction number a ``.commit`` file records (0: none, or unreadable: the
    file only witnesses, the database itself is whole then)."""
    try:
        with open(path, "rb") as f:
            data = f.read(64)
    except OSError:
        return 0
    text = data.strip()
    return int(text) if len(data) == _COMMIT_DIGITS + 1 and text.isdigit() else 0
_STATUS_BY_VALUE = {s.value: s for s in JobStatus}


def _schema(input_dim: int) -> list[str]:
    xs = "".join(f"    x{i},\n" for i in range(1, input_dim + 1))
    return [
        "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS records(\n"
        "    job_id TEXT PRIMARY KEY,\n"
        "    ord INTEGER NOT NULL,\n"
        f"{xs}"
        "    output,\n"
        "    status TEXT NOT NULL,\n"
        "    level INTEGER NOT NULL,\n"
        "    interface_name TEXT NOT NULL,\n"
        "    created REAL,\n"
        "    changed REAL,\n"
        "    reason TEXT,\n"
        "    resubmit_of TEXT,\n"
        "    resubmitted_as TEXT,\n"
        "    hist_codes TEXT NOT NULL DEFAULT '',\n"
        "    hist_times TEXT NOT NULL DEFAULT '',\n"
        "    seq INTEGER NOT NULL\n"
        ")",
        "CREATE INDEX IF NOT EXISTS records_status ON records(status)",
        "CREATE INDEX IF NOT EXISTS records_seq ON records(seq)",
        "CREATE TABLE IF NOT EXISTS history(\n"
        "    id INTEGER PRIMARY KEY,\n"
        "    seq INTEGER NOT NULL,\n"
        "    job_id TEXT NOT NULL,\n"
        "    status TEXT NOT NULL,\n"
        "    time REAL NOT NULL\n"
        ")",
        # No index on history: nothing reads it by job or seq (records carry their
        # history), and every index adds pages to each commit.
    ]


_REST = (
    "output, status, level, interface_name, created, changed, reason, resubmit_of, "
    "resubmitted_as, hist_codes, hist_times"
)
# A full load gets the text columns of all records as one row, each column joined into
# one text by SQLite (which costs a fraction of fetching 100,000s of rows of them), with
# the rowids to prove their order. A value that contains the separator ("," or, for the
# interface names, "\x1f") makes its column split into more values than there are
# records: then the rows are read one by one.
_TEXT_COLUMNS = (
    "SELECT count(*), count(job_id), count(interface_name), group_concat(rowid), "
    "group_concat(job_id), group_concat(status), group_concat(level), "
    "group_concat(interface_name, '\x1f'), group_concat(hist_codes), "
    "group_concat(hist_times) FROM records NOT INDEXED"
)
# The three extras that are mostly NULL: a load reads them from the rows that have them.
_EXTRAS = "reason, resubmit_of, resubmitted_as"
_EXTRAS_SELECT = (
    f"SELECT job_id, {_EXTRAS} FROM records WHERE reason IS NOT NULL OR resubmit_of IS "
    "NOT NULL OR resubmitted_as IS NOT NULL"
)
_UPDATE = (
    "UPDATE records SET output=?, status=?, interface_name=?, changed=?, reason=?, "
    "resubmitted_as=?, hist_codes=?, hist_times=?, seq=? WHERE job_id=?"
)
_INSERT_HISTORY = "INSERT INTO history(seq, job_id, status, time) VALUES (?,?,?,?)"


def _float_or_none(x) -> Optional[float]:
    return None if x is None else float(x)


def _check_schema(conn: sqlite3.Connection, path: str, input_dim: int, *,
                  empty_is_error: bool) -> None:
    """Refuse a database that is not a simjobs log of ``input_dim`` inputs (writes
    nothing); ``empty_is_error``: also one without tables (a reader's real open)."""
    tables = {
        row[0]
        for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
    }
    if not tables:
        # (A log created this instant may still have its tables only in the WAL,
        # which the precheck does not see: only the real open decides.)
        if empty_is_error:
            raise LogFormatError(
                f"{path}: the database is empty, not a simjobs log; open it for "
                "writing to create the log, or use another file"
            )
        return
    if not {"meta", "records", "history"} <= tables:
        raise LogFormatError(
            f"{path}: the database has no simjobs log tables (meta, records, "
            "history); use another file"
        )
    meta = dict(conn.execute("SELECT key, value FROM meta"))
    if meta.get("format") != FORMAT or "input_dim" not in meta:
        raise LogFormatError(
            f"{path}: the meta table does not describe a simjobs log "
            f"(format {excerpt(meta.get('format'))}); use another file"
        )
    try:
        stored = int(meta["input_dim"])
    except ValueError:
        raise LogFormatError(
            f"{path}: input_dim in the meta table is {excerpt(meta['input_dim'])}, not a "
            "number; use another file"
        ) from None
    if stored != input_dim:
        raise LogFormatError(
            f"{path}: log has input_dim {stored} but input_dim is {input_dim}; "
            f"open it with input_dim={stored} or use another file"
        )


def _records_from_rows(path: str, input_dim: int, rows) -> list[LogRecord]:
    """LogRecords from the rows of a store's ``_select``, built column by column."""
    if not rows:
        return []
    d = input_dim
    cols = list(zip(*rows))
    return _build_records(path, cols[0], list(zip(*cols[2:2 + d])), *cols[2 + d:13 + d])


def _build_records(path: str, ids, coords, outs, statuses, levels, ifaces, created, changed,
                   reason, rof, ras, codes, times) -> list[LogRecord]:
    """LogRecords from columns. The histories are checked here and handed to the
    records packed: each is decoded only when it is first read."""
    try:
        statuses = list(map(_STATUS_BY_VALUE.__getitem__, statuses))
    except KeyError as exc:
        raise LogFormatError(
            f"{path}: a record has status {excerpt(exc.args[0])}, not one of "
            f"{', '.join(_STATUS_BY_VALUE)}; fix that row"
        ) from None
    try:
        check_histories(codes, times)
    except (ValueError, KeyError, TypeError) as exc:
        raise LogFormatError(
            f"{path}: a record has an unreadable history ({exc}); fix that row"
        ) from None
    if any(ras):  # (None gives an empty list)
        ras = [decode_links(x) if x else None for x in ras]
    return list(map(LogRecord, ids, coords, outs, statuses, levels, ifaces, created,
                    changed, reason, rof, ras, pack_histories(codes, times)))


class SqliteStore(LogStore):
    """A simulations log in an SQLite database (see the module docstring).

    Parameters
    ----------
    path : str or os.PathLike
        The database file; created (with its schema) when missing.
    input_dim : int
        The number of inputs; must equal the one stored in the database.
    readonly : bool
        Open with ``mode=ro``: never writes; :meth:`refresh` loads the rows changed since
        the last load.

    Raises
    ------
    LogFormatError
        The file is not a simjobs SQLite log, or it has another input_dim.
    SimjobsError
        The directory is missing or not writable (writer), or the file is missing (reader).
    """

    def __init__(self, path, input_dim: int, *, readonly: bool = False):
        self._unsynced = False  # a commit made with sync=False is not fsync'd yet
        self._wal = True  # False on a network file system: a rollback journal there
        if not isinstance(input_dim, int) or isinstance(input_dim, bool) or input_dim < 1:
            raise ValueError(f"input_dim must be a positive int, but received {input_dim!r}")
        super().__init__(os.fsdecode(path), input_dim, readonly=readonly)
        xs = [f"x{i}" for i in range(1, input_dim + 1)]
        self._select = f"SELECT job_id, ord, {', '.join(xs)}, {_REST}, seq FROM records"
        # A full load: each column of each row costs about as much to fetch as the row
        # itself, so neither ord nor seq (see _load_all_rows) nor the extras; and the
        # text columns are best fetched all at once (_TEXT_COLUMNS).
        self._select_all = (
            f"SELECT job_id, {', '.join(xs)}, output, status, level, interface_name, "
            "created, changed, hist_codes, hist_times FROM records"
        )
        self._select_numbers = (
            f"SELECT {', '.join(xs)}, output, created, changed FROM records ORDER BY rowid"
        )
        self._insert = (
            f"INSERT INTO records(job_id, ord, {', '.join(xs)}, {_REST}, seq) VALUES "
            f"({', '.join('?' * (input_dim + 14))})"
        )
        self._mutex = threading.RLock()
        self._closed = False
        self._seq = 0  # the highest write-transaction number loaded / written
        self._ord = 0
        self._data_version: Optional[int] = None
        abspath = os.path.abspath(self.path)
        self._commit_path = abspath + COMMIT_SUFFIX
        self._commit_fd: Optional[int] = None
        self._noted = 0  # the transaction number last written to it
        # Read before the database: a writer may commit meanwhile, never the reverse.
        committed = _read_commit(self._commit_path)
        if os.path.isfile(abspath):
            self._precheck(abspath)
            if not readonly and committed:
                self.damage = self._lost_commits(abspath, committed)
                if self.damage is not None:  # nothing is changed until repaired
                    readonly = self.readonly = True
        if readonly:
            if not os.path.exists(self.path):
                raise SimjobsError(
                    f"no log at {self.path}; check the path, or open it for writing to create it"
                )
            uri = "file:" + urllib.parse.quote(abspath) + "?mode=ro"
            if self._nobody_can_write(abspath):
                # A WAL database needs its -shm file even to be read, which a directory
                # nobody may write cannot get; and nobody can change the file there
                # either (a writer needs a -wal or -journal beside it): read it as is.
                uri = "file:" + urllib.parse.quote(abspath) + "?immutable=1"
            self._conn = self._connect(uri, uri=True)
        else:
            self._check_directory(abspath)
            self._wal = self._journal_mode_for(abspath) == "wal"
            self._conn = self._connect(abspath)
        try:
            _check_schema(self._conn, self.path, input_dim, empty_is_error=readonly)
            if not readonly:
                self._init_writer()
            self._load_all()
            if self.damage is None and committed > self._seq:
                self.damage = self._lost_message(committed, self._seq)
            if not readonly:
                self._open_commit()
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise self._format_error(exc) from None
        except (TypeError, ValueError) as exc:  # a damaged file's unreadable values
            self._conn.close()
            raise LogFormatError(
                f"{self.path}: holds unreadable values ({str(exc)[:80]}); restore it from "
                "a backup"
            ) from None
        except BaseException:
            self._conn.close()
            raise

        if self.damage is not None:
            warnings.warn(self.damage, stacklevel=2)

    # ---- opening ------------------------------------------------------------------------

    def _lost_commits(self, abspath: str, committed: int) -> Optional[str]:
        """The damage line when the database (read through a read-only connection, which
        changes nothing) lacks transactions the ``.commit`` file records."""
        uri = "file:" + urllib.parse.quote(abspath) + "?mode=ro"
        try:
            conn = sqlite3.connect(uri, uri=True, isolation_level=None)
        except sqlite3.Error:
            return None  # the real open says what is wrong
        try:
            tables = {row[0] for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table'")}
            if not {"records", "history"} <= tables:
                raise LogFormatError(
                    f"{self.path}: holds no records but {self._commit_path} records "
                    f"{committed} transactions; restore it from a backup"
                )
            last = conn.execute("SELECT max(seq) FROM records").fetchone()[0] or 0
            hist = conn.execute("SELECT seq FROM history ORDER BY id DESC LIMIT 1").fetchone()
            last = max(last, (hist[0] or 0) if hist else 0)
        except (sqlite3.DatabaseError, TypeError):
            return None  # damaged: the real open says what is wrong
        finally:
            conn.close()
        return self._lost_message(committed, last) if last < committed else None

    def _lost_message(self, committed: int, last: int) -> str:
        return (
            f"{self.path}: {committed - last} committed transactions are missing (its "
            f"last is number {last}, {os.path.basename(self._commit_path)} records "
            f"{committed}: its -wal file was cut or removed); opened read-only: restore "
            f"it and its -wal file from a backup, or run 'simjobs repair {self.path}' to "
            "keep what is left (it backs the files up first)"
        )

    def _open_commit(self) -> None:
        self._commit_fd = open_own_file(self._commit_path)
        self._note_committed(self._seq)

    def _note_committed(self, seq: int) -> None:
        """Record that transaction ``seq`` is on disk (after its fsync)."""
        if self._commit_fd is not None and seq > self._noted:
            os.pwrite(self._commit_fd, b"%0*d\n" % (_COMMIT_DIGITS, seq), 0)
            self._noted = seq


    def _check_directory(self, abspath: str) -> None:
        check_log_directory(self.path)
        if os.path.isdir(abspath):
            raise SimjobsError(f"{self.path} is a directory, not a log file; choose another path")

    @staticmethod
    def _nobody_can_write(abspath: str) -> bool:
        """True when nobody can write the log's directory (a read-only mount, an
        immutable directory, or one without any write permission bit), and no writer's
        -wal or -journal file is beside the log. Not when only we may not write it:
        its owner could start writing at any time."""
        directory = os.path.dirname(abspath)
        if os.access(directory, os.W_OK | os.X_OK):
            return False
        try:
            st, vfs = os.stat(directory), os.statvfs(directory)
        except OSError:
            return False
        # As root, os.access refuses only a read-only mount or an immutable directory.
        nobody = (os.geteuid() == 0 or vfs.f_flag & os.ST_RDONLY
                  or st.st_mode & 0o222 == 0)
        return bool(nobody) and not any(
            os.path.exists(abspath + suffix) for suffix in ("-wal", "-journal"))

    def _connect(self, target: str, uri: bool = False) -> sqlite3.Connection:
        try:
            return sqlite3.connect(
                target, uri=uri, isolation_level=None, check_same_thread=False, timeout=30
            )
        except sqlite3.Error as exc:
            raise SimjobsError(f"cannot open the log {self.path}: {exc}") from None

    def _disk_full_error(self, exc: Exception) -> Optional[SimjobsError]:
        """A LogWriteError naming the file and the space left, when ``exc`` is SQLite
        meeting a full disk (SQLITE_FULL, or an I/O error with no space left: a -shm or
        journal file it could not extend); else None."""
        code = getattr(exc, "sqlite_errorcode", None)
        if code is None:
            return None
        full = code & 0xFF == sqlite3.SQLITE_FULL
        if not full and code & 0xFF == sqlite3.SQLITE_IOERR:
            full = filesystems.free_bytes(self.path) == 0
        if not full:
            return None
        return filesystems.LogWriteError(
            OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), self.path)

    def _format_error(self, exc: Exception) -> SimjobsError:
        full = self._disk_full_error(exc)
        if full is not None:
            return full
        text = str(exc)
        if "not a database" in text or "malformed" in text:
            return LogFormatError(
                f"{self.path}: is not an SQLite database ({text}); use another file, or a "
                ".csv name for a CSV log"
            )
        return SimjobsError(f"cannot use the log {self.path}: {text}")

    def _precheck(self, abspath: str) -> None:
        """Find a wrong file without creating SQLite's -wal/-shm files beside it.

        A reader cannot delete those files after a failed open, so a definite error
        (not a database, a foreign database, another input_dim) is found first through
        an ``immutable`` connection, which creates nothing. Its view may miss what is
        still only in the WAL, so it never decides that a file is fine: the real open
        checks again."""
        uri = "file:" + urllib.parse.quote(abspath) + "?immutable=1"
        try:
            conn = sqlite3.connect(uri, uri=True, isolation_level=None)
        except sqlite3.Error:
            return
        try:
            _check_schema(conn, self.path, self.input_dim, empty_is_error=False)
        except sqlite3.DatabaseError as exc:
            raise self._format_error(exc) from None
        finally:
            conn.close()

    def _journal_mode_for(self, abspath: str) -> str:
        """``wal`` on a local file system; ``delete`` (a rollback journal) on a network
        one, where WAL cannot work (its shared memory does not cross hosts, SQLite's
        docs); a refusal where even that is unsafe: SQLite's own file locks must reach
        every host that reads the log."""
        fs = filesystems.file_system(abspath)
        if not fs.network:
            return "wal"
        local_locks = {"localflock", "noflock", "nolock", "local_lock=all",
                       "local_lock=posix"} & fs.options
        if local_locks:
            option = sorted(local_locks)[0]
            raise SimjobsError(
                f"cannot use the SQLite log {self.path} on {fs.describe()}: it is mounted "
                f"{option}, so SQLite's locks do not reach the other hosts that read it; "
                "use a CSV log (a .csv name) there, or a file system mounted with shared "
                "locks (Lustre -o flock, NFS with locking)"
            )
        return "delete"

    def _init_writer(self) -> None:
        conn = self._conn
        wanted = "wal" if self._wal else "delete"
        mode = conn.execute(f"PRAGMA journal_mode={wanted.upper()}").fetchone()[0]
        if str(mode).lower() != wanted:
            raise SimjobsError(
                f"cannot use the log {self.path}: SQLite refused {wanted.upper()} journal "
                f"mode ({mode}); use a local file system"
            )
        # FULL: the WAL is fsync'd at every commit, so a committed add/apply survives a
        # power cut too (the LogStore contract). Measured on the 2-CPU VM this was built
        # on, one single-change apply() on a 100,000-record log: 0.4-0.9 ms with FULL
        # (depending on other disk traffic), 0.2 ms with NORMAL. FULL stays under the
        # 1 ms goal, so FULL it is (see bench/logstore.py).
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _schema(self.input_dim):
                conn.execute(statement)
            conn.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES ('format', ?)", (FORMAT,)
            )
            conn.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES ('input_dim', ?)",
                (str(self.input_dim),),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    # ---- loading ------------------------------------------------------------------------

    def _load_all(self) -> None:
        enabled = gc.isenabled()
        gc.disable()  # 100,000s of new objects: no point scanning them again and again
        try:
            self._load_all_rows()
        finally:
            if enabled:
                gc.enable()

    def _load_all_rows(self) -> None:
        conn = self._conn
        d = self.input_dim
        self._data_version = conn.execute("PRAGMA data_version").fetchone()[0]
        conn.execute("BEGIN")
        try:
            # add() numbers rowids and ords alike, so the rowid order (that of a table
            # scan) is the add order, unless a VACUUM renumbered the rowids.
            misplaced = conn.execute(
                "SELECT count(*) FROM records WHERE ord != rowid"
            ).fetchone()[0]
            cols = None if misplaced else self._fetch_columns()
            if cols is None:
                rows = conn.execute(
                    self._select_all + (" ORDER BY ord" if misplaced else "")
                ).fetchall()
                cols = list(zip(*rows)) if rows else [()] * (d + 9)
                del rows
                cols[1:1 + d] = [list(zip(*cols[1:1 + d]))]
            if misplaced:
                max_ord = conn.execute("SELECT max(ord) FROM records").fetchone()[0]
            else:
                max_ord = conn.execute(
                    "SELECT ord FROM records ORDER BY rowid DESC LIMIT 1"
                ).fetchone()
                max_ord = max_ord[0] if max_ord else 0
            extras = conn.execute(_EXTRAS_SELECT).fetchall()
            # History rows are appended with ever higher seqs: the last one has the
            # highest (read by its id, not by a scan of the whole table).
            last = conn.execute("SELECT seq FROM history ORDER BY id DESC LIMIT 1").fetchone()
            self._seq = max(
                conn.execute("SELECT max(seq) FROM records").fetchone()[0] or 0,
                last[0] if last else 0,
            )
        finally:
            conn.execute("COMMIT")
        self._ord = max_ord or 0
        ids = cols[0]
        none = [None] * len(ids)
        recs = _build_records(self.path, ids, *cols[1:8], none, none, none, *cols[8:10])
        records = dict(zip(ids, recs))
        for job_id, reason, rof, ras in extras:
            rec = records[job_id]
            rec.reason, rec.resubmit_of = reason, rof
            rec.resubmitted_as = decode_links(ras)
        self.records = records  # (only ever called by __init__)

    def _fetch_columns(self) -> Optional[list]:
        """The columns job_id, coords, output, status, level, interface_name, created,
        changed, hist_codes, hist_times of all records in rowid order, through
        _TEXT_COLUMNS and one query of the numbers; None when the rows must be read one
        by one instead (a value holds the separator, a NULL, a rowid out of order...)."""
        conn = self._conn
        try:
            n, n_ids, n_ifaces, *texts = conn.execute(_TEXT_COLUMNS).fetchone()
        except sqlite3.Error:  # e.g. a text longer than SQLite allows (1 GB)
            return None
        if not n:
            return None
        if n_ids != n or n_ifaces != n or not all(isinstance(t, str) for t in texts):
            return None
        rowids, ids, statuses, levels, ifaces, codes, times = [
            t.split("\x1f" if k == 4 else ",") for k, t in enumerate(texts)
        ]
        if any(len(col) != n for col in (rowids, ids, statuses, levels, ifaces, codes, times)):
            return None
        try:
            rowids = list(map(int, rowids))
            levels = parse_each(int, levels)
        except ValueError:
            return None
        if rowids != sorted(rowids):
            return None  # SQLite joined them in another order than a query would return
        rows = conn.execute(self._select_numbers).fetchall()
        if len(rows) != n:
            return None
        d = self.input_dim
        numbers = list(zip(*rows))
        del rows
        coords = list(zip(*numbers[:d]))
        outs, created, changed = numbers[d:]
        return [ids, coords, outs, statuses, levels, ifaces, created, changed, codes, times]

    def refresh(self) -> bool:
        """Load the rows another process wrote since the last load (readers).

        One ``PRAGMA data_version`` when nothing changed; otherwise only the records
        and history rows whose ``seq`` is above the last one seen. True if anything
        changed; a writer has nothing to load: False."""
        with self._mutex:
            if not self.readonly or self._closed:
                return False
            conn = self._conn
            version = conn.execute("PRAGMA data_version").fetchone()[0]
            if version == self._data_version:
                return False
            self._data_version = version
            last = self._seq
            records = self.records
            changed = False
            conn.execute("BEGIN")
            try:
                rows = conn.execute(
                    self._select + " WHERE seq > ? ORDER BY ord", (last,)
                ).fetchall()
            finally:
                conn.execute("COMMIT")
            for rec_new, row in zip(_records_from_rows(self.path, self.input_dim, rows), rows):
                changed = True
                self._seq = max(self._seq, row[-1])
                self._ord = max(self._ord, row[1])
                rec = records.get(rec_new.job_id)
                if rec is None:
                    records[rec_new.job_id] = rec_new
                    continue
                rec.output = rec_new.output
                rec.status = rec_new.status
                rec.interface_name = rec_new.interface_name
                rec.changed = rec_new.changed
                rec.reason = rec_new.reason
                rec.resubmitted_as = rec_new.resubmitted_as
                rec._history = rec_new._history  # as it is: still packed (see LogRecord)
            return changed

    # ---- writing ------------------------------------------------------------------------

    def _check_writable(self) -> None:
        if self._closed:
            raise SimjobsError(f"the log {self.path} is closed")
        if self.damage is not None:
            raise SimjobsError(self.damage)
        if self.readonly:
            raise SimjobsError(f"the log {self.path} was opened read-only")

    def _transaction(self, work, sync: bool = True) -> None:
        conn = self._conn
        # With a rollback journal (network file systems) every commit is fsync'd: there
        # is no WAL for sync() to fsync later.
        sync = sync or not self._wal
        if not sync:
            # NORMAL: the commit is written to the WAL without an fsync; sync() makes
            # it durable later (a killed process loses nothing either way).
            conn.execute("PRAGMA synchronous=NORMAL")
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                work(conn)
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                full = self._disk_full_error(exc)  # one line naming the file, not a traceback
                if full is not None:
                    raise full from exc
                raise
        finally:
            if not sync:
                conn.execute("PRAGMA synchronous=FULL")
                self._unsynced = True

    def sync(self) -> None:
        """Make every commit so far durable: fsync the WAL file they were written to."""
        with self._mutex:
            if not self._unsynced or self._closed or self.readonly:
                return
            self._unsynced = False  # a commit made meanwhile sets it again
            seq = self._seq
            try:
                fd = os.open(self.path + "-wal", os.O_RDONLY)
            except FileNotFoundError:
                fd = None  # checkpointed into the database and removed
        if fd is not None:
            try:  # outside the lock: writers are not held up by the fsync
                os.fsync(fd)
            finally:
                os.close(fd)
        with self._mutex:
            if not self._closed:
                self._note_committed(seq)

    def add(self, records: Sequence[LogRecord], sync: bool = True) -> None:
        """Insert new records in one transaction (fsync'd unless ``sync=False``, when
        durability waits for the next :meth:`sync`).

        Raises
        ------
        ValueError
            A record's id is in use or repeated, or a field is wrong; nothing is written.
        """
        with self._mutex:
            self._check_writable()
            if not records:
                return
            seen: set[str] = set()
            for rec in records:
                self._validate_record(rec, seen)
            seq = self._seq + 1
            ord0 = self._ord
            rows = []
            hist = []
            for i, rec in enumerate(records, start=1):
                rows.append(
                    (
                        rec.job_id,
                        ord0 + i,
                        *[float(c) for c in rec.coords],
                        _float_or_none(rec.output),
                        rec.status.value,
                        rec.level,
                        rec.interface_name or "",
                        _float_or_none(rec.created),
                        _float_or_none(rec.changed),
                        rec.reason,
                        rec.resubmit_of,
                        encode_links(rec.resubmitted_as) or None,
                        *encode_history(rec.history),
                        seq,
                    )
                )
                hist.extend((seq, rec.job_id, s.value, float(t)) for s, t in rec.history)

            def work(conn):
                conn.executemany(self._insert, rows)
                if hist:
                    conn.executemany(_INSERT_HISTORY, hist)

            self._transaction(work, sync)
            self._seq = seq
            if sync:
                self._note_committed(seq)
            self._ord = ord0 + len(records)
            for rec in records:
                self.records[rec.job_id] = rec

    def apply(self, changes: Sequence[LogChange], sync: bool = True) -> None:
        """Apply changes in one transaction (one UPDATE per job, history rows appended).

        Raises
        ------
        SimulationsLogLookupError
            A change names an unknown job; nothing is written.
        ValueError
            A change has a value of the wrong kind; nothing is written.
        """
        with self._mutex:
            self._check_writable()
            if not changes:
                return
            records = self.records
            seq = self._seq + 1
            # The state each touched record will have: [output, status, iface, changed,
            # reason, resubmitted_as, new history entries], computed without touching
            # the records yet.
            state: dict[str, list] = {}
            hist = []
            for ch in changes:
                rec = records.get(ch.job_id)
                if rec is None:
                    raise SimulationsLogLookupError(
                        f"Could not update simulation with job ID = {ch.job_id}: no such "
                        "simulation exists."
                    )
                s = state.get(ch.job_id)
                if s is None:
                    s = state[ch.job_id] = [
                        rec.output, rec.status, rec.interface_name, rec.changed,
                        rec.reason, encode_links(rec.resubmitted_as) or None, [],
                    ]
                if ch.status is not UNSET:
                    if not isinstance(ch.status, JobStatus):
                        raise ValueError(f"status {ch.status!r} is not a JobStatus")
                    if ch.status != s[1]:
                        s[1] = ch.status
                        s[3] = float(ch.time)
                        s[6].append((ch.status, ch.time))
                        hist.append((seq, ch.job_id, ch.status.value, float(ch.time)))
                if ch.output is not UNSET:
                    validate_output(ch.job_id, ch.output)
                    s[0] = ch.output
                if ch.interface_name is not UNSET:
                    if not isinstance(ch.interface_name, str):
                        raise ValueError(f"interface name {ch.interface_name!r} is not a str")
                    s[2] = ch.interface_name
                if ch.reason is not UNSET:
                    if ch.reason is not None and not isinstance(ch.reason, str):
                        raise ValueError(f"reason {ch.reason!r} is not a str")
                    s[4] = ch.reason
                if ch.resubmitted_as is not UNSET:
                    s[5] = encode_links(ch.resubmitted_as) or None
            rows = [
                (_float_or_none(s[0]), s[1].value, s[2], _float_or_none(s[3]), s[4], s[5],
                 *history_columns(records[job_id], s[6]), seq, job_id)
                for job_id, s in state.items()
            ]

            def work(conn):
                conn.executemany(_UPDATE, rows)
                if hist:
                    conn.executemany(_INSERT_HISTORY, hist)

            self._transaction(work, sync)
            self._seq = seq
            if sync:
                self._note_committed(seq)
            for ch in changes:
                ch.apply_to(records[ch.job_id])

    def checkpoint(self) -> None:
        """Copy the WAL into the database file and empty it (writer). Waits at most
        about 0.2 s for a reader's snapshot; what it could not copy is copied later."""
        with self._mutex:
            if self.readonly or self._closed:
                return
            self._wal_checkpoint()

    def _wal_checkpoint(self) -> None:
        conn = self._conn
        conn.execute("PRAGMA busy_timeout=200")
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.OperationalError:
            pass  # busy: SQLite checkpoints again later
        finally:
            conn.execute("PRAGMA busy_timeout=30000")

    def close(self) -> None:
        """Checkpoint (writer) and close the connection. Calling it again does nothing."""
        with self._mutex:
            if self._closed:
                return
            try:
                if not self.readonly:
                    self._wal_checkpoint()
            finally:
                self._closed = True
                self._conn.close()
                if self._commit_fd is not None:
                    os.close(self._commit_fd)
                    self._commit_fd = None

    def rewrite(self) -> None:
        """Accept what the database holds as the log's state (``simjobs repair``, once
        the files are backed up): the ``.commit`` file records its last transaction;
        then close."""
        with self._mutex:
            fd = os.open(self._commit_path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o666)
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, b"%0*d\n" % (_COMMIT_DIGITS, self._seq), 0)
                os.fsync(fd)
            finally:
                os.close(fd)
            self.damage = None
        self.close()

    def __enter__(self) -> "SqliteStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def peek_sqlite(path, input_dim: int, n: int) -> Optional[tuple[list[LogRecord], int]]:
    """The newest ``n`` records of an SQLite log (in the log's order) and how many it
    holds, from one read transaction (``ORDER BY ord DESC LIMIT n`` and a count), without
    loading the log; None when the file is no readable log of this dimension."""
    abspath = os.path.abspath(os.fsdecode(path))
    if not os.path.isfile(abspath):
        return None
    xs = [f"x{i}" for i in range(1, input_dim + 1)]
    select = f"SELECT job_id, ord, {', '.join(xs)}, {_REST}, seq FROM records"
    try:
        conn = sqlite3.connect("file:" + urllib.parse.quote(abspath) + "?mode=ro", uri=True,
                               isolation_level=None, check_same_thread=False, timeout=5)
    except sqlite3.Error:
        return None
    try:
        _check_schema(conn, abspath, input_dim, empty_is_error=True)
        conn.execute("BEGIN")
        try:
            total = conn.execute("SELECT count(*) FROM records").fetchone()[0]
            rows = conn.execute(select + " ORDER BY ord DESC LIMIT ?", (int(n),)).fetchall()
        finally:
            conn.execute("COMMIT")
        rows.reverse()
        return _records_from_rows(abspath, input_dim, rows), total
    except (sqlite3.Error, SimjobsError, ValueError, KeyError, TypeError):
        return None
    finally:
        conn.close()
