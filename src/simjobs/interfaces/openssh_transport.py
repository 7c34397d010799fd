"""OpenSSHRunner: the :class:`~.runner.CommandRunner` that runs commands through the system ``ssh``.

Chosen with ``transport = "openssh"``. Every command is one ``ssh`` process that
multiplexes a session over **one master connection** (OpenSSH's ``ControlMaster``), so
a poll stays one round trip and costs no login. Because it is the user's own ``ssh``,
everything in ``~/.ssh/config`` applies: ``Host`` aliases, ``ProxyJump``,
``IdentityFile``, certificates, Kerberos/GSSAPI, agents.

The master connection (choices):

- **The user's own**, when their configuration gives the host a ``ControlPath``
  (``ssh -G`` prints the effective one): a master they opened by hand (after a second
  factor, say) is used as it is. When none runs there, simjobs opens one at that path
  (``ssh -Nf``; it then lives by the user's ``ControlPersist``, or
  :attr:`OpenSSHRunner.control_persist` seconds unused when they set none) and leaves
  it open on :meth:`~OpenSSHRunner.close`: the user's own ``ssh`` sessions may share it.
- **Else simjobs' own**, at ``<private dir>/%C`` where the private dir is made by
  :func:`tempfile.mkdtemp` (mode 0700, created exclusively: no other user can put a
  socket or a link there). :meth:`~OpenSSHRunner.close` stops it (``ssh -O exit``) and
  removes the dir; a simjobs killed without closing leaves a master that ends after
  :attr:`~OpenSSHRunner.control_persist` seconds unused.

A user's ``ControlPath`` socket is trusted only when it is a socket of the user's
own (``lstat``: never a link) in a directory of theirs (or root's) that no one else may
write, or a sticky one: else another user could plant it and read every command and its
stdin. Commands on a user's master are counted per ``ControlPath`` for the whole
process (:attr:`OpenSSHRunner.user_master_channels`); a session the master refuses
(the server's ``MaxSessions``) is tried again after a short wait.

Every ``ssh`` runs with ``BatchMode=yes`` (nothing ever waits for a password or a
code) and ``StrictHostKeyChecking=yes`` (host keys are always verified, as with the
asyncssh transport), in a session of its own without a terminal or an askpass program:
the command-line options do not reach a ``ProxyJump`` hop, which then fails instead of
asking on the terminal. Commands never open a connection of their own: when the master is
gone, the command's ``ssh`` meets a ``ProxyCommand`` that only says so, so nothing
reaches the host; the runner then opens the master again (with exponential backoff after
failures, like :class:`~.ssh_transport.SSHRunner`) and runs the command once more.

Failures: ``ssh`` exits 255 for its own errors, so exit 255 raises
:class:`~.runner.HostUnreachableError` (a refused host key: :class:`~.runner.HostKeyError`
with the fix); every other exit status is the command's own result. A remote command
that itself exits 255 is therefore read as unreachable (simjobs' own remote commands
never do).
"""

from __future__ import annotations

import math
import os
import re
import shlex
import shutil
import stat
import subprocess
import tempfile
import threading
import time
from typing import Optional

from .runner import (
    CommandResult,
    HostKeyError,
    HostUnreachableError,
    RetryBackoff,
    SSHSettings,
    ThreadedRunMany,
    host_key_message,
)
from .ssh_transport import DEFAULT_COMMAND_TIMEOUT

#: What the ProxyCommand of a command's ssh prints when it finds no master: the command
#: never reached the host, so it may be run again once the master is back.
NO_MASTER = "simjobs: no master connection"

#: A control socket's path must fit in sun_path (104 bytes on macOS, 108 on Linux).
_MAX_SOCKET_PATH = 100


def _detached() -> dict:
    """What every ssh (and ssh-keyscan/ssh-keygen) of this runner is started with, so
    that nothing of it can ask a person: ``BatchMode``/``StrictHostKeyChecking`` on the
    command line do not reach a ``ProxyJump`` hop, which would otherwise ask "continue
    connecting?" or for a password on the controlling terminal (over the app's screen or
    the CLI). A new session has no controlling terminal (ssh cannot open ``/dev/tty``),
    and without ``DISPLAY``/``SSH_ASKPASS`` and with ``SSH_ASKPASS_REQUIRE=never`` it
    asks no askpass program either: such a hop fails at once instead."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "SSH_ASKPASS")}
    env["SSH_ASKPASS_REQUIRE"] = "never"
    return {"start_new_session": True, "env": env}


def _option_value(value: str) -> str:
    """``value`` as ssh's ``-o Key=VALUE`` reads it: ``%`` escaped (paths are token
    expanded) and double-quoted when it holds spaces or quotes."""
    value = value.replace("%", "%%")
    if re.search(r'[\s"\'\\]', value):
        value = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return value


class OpenSSHRunner(ThreadedRunMany):
    """Runs shell commands on ``settings.host`` through the system ``ssh`` over one
    master connection (see the module docstring).

    Parameters
    ----------
    settings : SSHSettings
        Host, port, user, identity files, known_hosts and connect timeout; a port of 22
        and no user leave them to ``~/.ssh/config``.
    config_file : str, optional
        An ssh configuration file to read instead of ``~/.ssh/config`` (``ssh -F``).
    ssh_program : str, optional
        The ``ssh`` to run, by default the one on ``PATH``.

    Attributes
    ----------
    host : str
        ``user@host:port``, as shown to users.
    commands_run : int
        Remote commands started: the round trips, for tests and benchmarks.
    connects : int
        Master connections simjobs opened (a master found running is not counted).
    """

    #: Commands running at once over simjobs' own master (OpenSSH's MaxSessions is 10 by
    #: default), also the threads of :meth:`run_many`.
    max_channels: int = 8
    #: Commands running at once over a master of the user's ``ControlPath``, for all the
    #: runners of this process on it together (several interfaces may share it, and
    #: the user's own ssh sessions count against MaxSessions too).
    user_master_channels: int = 4
    #: How often a session the master refused (MaxSessions reached) is tried again, the
    #: waits doubling from :attr:`refused_wait` seconds.
    refused_retries: int = 6
    refused_wait: float = 0.1
    # One count of running commands per user ControlPath, shared by every runner.
    _shared_channels: dict[str, threading.BoundedSemaphore] = {}
    _shared_channels_lock = threading.Lock()
    #: The longest wait between two attempts to open the master after failures, seconds.
    max_backoff: float = 15.0
    #: The first wait after a failed attempt to open the master, in seconds.
    initial_backoff: float = 0.5
    #: Seconds a master simjobs opened stays up unused (``ControlPersist``): it outlives a
    #: simjobs killed without closing by this much, then ends.
    control_persist: int = 600
    #: Seconds between keepalives of the master, so a host that went away is noticed
    #: (three unanswered ones close it).
    keepalive_interval: int = 15

    def __init__(self, settings: SSHSettings, *, config_file: Optional[str] = None,
                 ssh_program: str = "ssh"):
        if not isinstance(settings, SSHSettings):
            raise TypeError(f"settings must be an SSHSettings, not {type(settings).__name__}")
        self.settings = settings
        self.host = settings.display
        self.config_file = os.path.expanduser(config_file) if config_file else None
        self.ssh_program = ssh_program
        self.commands_run = 0
        self.connects = 0
        self._lock = threading.Lock()  # the master's state
        self._count_lock = threading.Lock()
        self._own_channels = threading.BoundedSemaphore(self.max_channels)
        self.pool_size = self.max_channels
        self._closed = False
        self._config: Optional[dict[str, str]] = None  # ``ssh -G``, read once
        self._own_dir: Optional[str] = None  # the private dir of simjobs' own master
        self._control: list[str] = []  # the ControlPath option of simjobs' own master
        self._master_up = False
        self._backoff = RetryBackoff()

    # ---- ssh command lines

    def _ssh(self) -> str:
        path = shutil.which(self.ssh_program)
        if path is None:
            raise HostUnreachableError(
                f"cannot reach {self.host}: transport \"openssh\" runs the ssh program, which "
                f"is not installed here ({self.ssh_program!r} is not on PATH); install "
                "OpenSSH's client, or use transport = \"asyncssh\""
            )
        return path

    def _options(self) -> list[str]:
        """The options every ssh of this runner gets: the config file, batch mode, strict
        host keys, and what the simjobs config says (port, user, keys, known_hosts)."""
        s = self.settings
        args = ["-F", self.config_file] if self.config_file else []
        args += ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
                 "-o", f"ConnectTimeout={max(1, math.ceil(s.connect_timeout))}",
                 # Plain command channels whatever the user's config adds for the host:
                 # no tty, no RemoteCommand, no port/X11/agent forwarding (a mux client
                 # asking for the config's LocalForward again would fail).
                 "-T", "-o", "RemoteCommand=none", "-o", "ClearAllForwardings=yes", "-x", "-a"]
        if s.port != 22:
            args += ["-p", str(s.port)]
        if s.user:
            args += ["-l", s.user]
        for key in s.identity_files:
            args += ["-o", "IdentityFile=" + _option_value(os.path.expanduser(key))]
        if s.identity_files:
            args += ["-o", "IdentitiesOnly=yes"]
        if s.known_hosts:
            args += ["-o", "UserKnownHostsFile="
                     + _option_value(os.path.expanduser(s.known_hosts))]
        return args

    def _argv(self, *extra: str, command: Optional[str] = None) -> list[str]:
        # "--" before the host: a host name can never be read as an option.
        argv = [self._ssh(), *self._options(), *self._control, *extra, "--",
                self.settings.host]
        return argv if command is None else [*argv, command]

    def _local(self, argv: list[str], timeout: float) -> CommandResult:
        """Run an ssh that does not reach the host (``-G``, ``-O``): its result."""
        try:
            proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                                  timeout=timeout, **_detached())
        except subprocess.TimeoutExpired:
            return CommandResult(255, b"", f"no answer within {timeout:g} s".encode())
        except OSError as exc:
            raise HostUnreachableError(f"cannot run {argv[0]}: {exc}") from None
        return CommandResult(proc.returncode if proc.returncode >= 0 else -1,
                             proc.stdout, proc.stderr)

    # ---- the effective configuration and the master (under self._lock)

    def effective_config(self) -> dict[str, str]:
        """The host's effective ssh settings, as ``ssh -G`` prints them (lower-case
        keys; the first value of each). Read once; reaches no host.

        Raises
        ------
        HostUnreachableError
            If ssh cannot read the configuration (a syntax error in it, say).
        """
        if self._config is None:
            result = self._local([self._ssh(), *self._options(), "-G", "--",
                                  self.settings.host], 30.0)
            if result.exit_status != 0:
                raise HostUnreachableError(
                    f"cannot read the ssh configuration for {self.host}: "
                    f"{result.error_text() or 'ssh -G failed'}; check ~/.ssh/config")
            config: dict[str, str] = {}
            for line in result.text().splitlines():
                key, _, value = line.strip().partition(" ")
                if key:
                    config.setdefault(key.lower(), value)
            self._config = config
        return self._config

    @property
    def uses_own_master(self) -> bool:
        """Whether the master is simjobs' own (True) or at the ``ControlPath`` of the
        user's configuration (False)."""
        control_path = self.effective_config().get("controlpath", "none")
        return control_path in ("", "none")

    @property
    def control_path(self) -> str:
        """Where the master's socket is (the user's ``ControlPath``, or simjobs' own
        ``<private dir>/%C``, the private dir made on first use)."""
        if not self.uses_own_master:
            return self.effective_config()["controlpath"]
        self._make_own_dir()
        assert self._own_dir is not None
        return os.path.join(self._own_dir, "%C")

    def _make_own_dir(self) -> None:
        if self._own_dir is not None:
            return
        # mkdtemp: mode 0700, created exclusively (never an existing dir or a link).
        base = tempfile.gettempdir()
        if len(base) + 60 > _MAX_SOCKET_PATH:  # "/simjobs-ssh-XXXXXXXX/" + 40 hex chars
            base = "/tmp"
        self._own_dir = tempfile.mkdtemp(prefix="simjobs-ssh-", dir=base)
        self._control = ["-o", "ControlPath=" + _option_value(self._own_dir) + "/%C"]

    def master_pid(self) -> Optional[int]:
        """The pid of the master connection running at :attr:`control_path`, or None.
        Reaches no host (``ssh -O check``)."""
        if self.uses_own_master and self._own_dir is None:
            return None
        self._check_socket_owner()
        result = self._local(self._argv("-O", "check"), 15.0)
        if result.exit_status != 0:
            return None
        found = re.search(rb"pid=(\d+)", result.stdout + result.stderr)
        return int(found.group(1)) if found else None

    def _ensure_master(self) -> None:
        with self._lock:
            if self._closed:
                raise HostUnreachableError(f"the SSH connection to {self.host} was closed")
            if self._master_up:
                return
            if self.master_pid() is not None:  # the user's, opened by hand, or ours
                self._master_up = True
                self._backoff.succeeded()
                return
            self._backoff.check()
            try:
                self._open_master()
            except HostUnreachableError as exc:
                self._backoff.failed(exc, self.initial_backoff, self.max_backoff)
                raise
            self._backoff.succeeded()
            self._master_up = True
            self.connects += 1

    def _open_master(self) -> None:
        """``ssh -Nf -o ControlMaster=auto``: log in, then leave the master running in
        the background."""
        config = self.effective_config()
        persist = []
        if self.uses_own_master:
            self._make_own_dir()
            persist = ["-o", f"ControlPersist={self.control_persist}"]
        else:
            self._check_control_path()
            if config.get("controlpersist", "no") in ("no", "false", "0"):
                persist = ["-o", f"ControlPersist={self.control_persist}"]
        timeout = self.settings.connect_timeout + 30.0
        # "auto", not -M: ssh then removes a stale socket (a master that was killed)
        # before listening there; -M would keep it and run without multiplexing.
        argv = self._argv("-o", "ControlMaster=auto", *persist,
                          "-o", f"ServerAliveInterval={self.keepalive_interval}",
                          "-o", "ServerAliveCountMax=3", "-N", "-f")
        try:
            proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                                  timeout=timeout, **_detached())
        except subprocess.TimeoutExpired:
            raise HostUnreachableError(
                f"cannot connect to {self.host}: no answer within {timeout:g} s; check the "
                "host name, the port and the network") from None
        except OSError as exc:
            raise HostUnreachableError(f"cannot run {argv[0]}: {exc}") from None
        result = CommandResult(proc.returncode, proc.stdout, proc.stderr)
        if proc.returncode != 0:
            raise self._connect_error(result)
        if self.master_pid() is None:
            raise HostUnreachableError(
                f"ssh logged in to {self.host} but no master connection answers at "
                f"{self.control_path} ({result.error_text() or 'no message'}); check "
                "ControlPath in your ssh configuration")

    def _check_socket_owner(self) -> None:
        """Refuse a control socket another user could have made: ssh would send that
        user's listener every command and its stdin. The socket (when there) must be a
        socket of ours (lstat: a link is refused), and its directory must be ours (or
        root's) and writable by nobody else, or sticky (then no one else can replace our
        socket, and one they plant is not ours). simjobs' own private dir passes."""
        if self.uses_own_master:
            return  # mkdtemp's 0700 dir: only we can put anything there
        path = self.control_path
        folder = os.path.dirname(path) or "."
        euid = os.geteuid()
        fix = ("use a ControlPath in a directory only you can write, such as "
               "~/.ssh/cm-%C (mkdir -m 700 ~/.ssh)")
        try:
            info = os.stat(folder)
        except OSError:
            return  # no directory: nothing to trust (_check_control_path names it)
        others_write = info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
        if info.st_uid not in (euid, 0) or (others_write and not info.st_mode & stat.S_ISVTX):
            raise HostUnreachableError(
                f"refusing the ControlPath {path} of your ssh configuration for {self.host}: "
                f"its directory {folder} may be written by other users; {fix}")
        try:
            found = os.lstat(path)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise HostUnreachableError(
                f"cannot check the ControlPath {path} for {self.host}: {exc.strerror}; {fix}"
            ) from None
        if not stat.S_ISSOCK(found.st_mode) or found.st_uid != euid:
            raise HostUnreachableError(
                f"refusing the ControlPath {path} of your ssh configuration for {self.host}: "
                "it is not a socket of yours (another user may have put it there, to read "
                f"your commands); nothing was sent; {fix}")

    def _check_control_path(self) -> None:
        """The user's ControlPath must be a socket path ssh can make: else ``ssh -Nf``
        would log in and stay in the background without a master (nothing to reuse)."""
        path = self.control_path
        folder = os.path.dirname(path) or "."
        if len(path.encode()) > _MAX_SOCKET_PATH:
            raise HostUnreachableError(
                f"the ControlPath {path} of your ssh configuration for {self.host} is too "
                f"long for a socket ({len(path.encode())} bytes, at most {_MAX_SOCKET_PATH}); "
                "choose a shorter one, such as ~/.ssh/cm-%C")
        if not os.path.isdir(folder) or not os.access(folder, os.W_OK | os.X_OK):
            raise HostUnreachableError(
                f"the directory of the ControlPath {path} of your ssh configuration for "
                f"{self.host} does not exist or is not writable; create it: "
                f"mkdir -m 700 {shlex.quote(folder)}")

    def _connect_error(self, result: CommandResult) -> HostUnreachableError:
        """The error for a master that could not be opened, from ssh's stderr."""
        text = (result.stderr or result.stdout).decode("utf-8", "replace")
        detail = result.error_text()
        port = self.settings.port if self.settings.port != 22 else None
        if "Host key verification failed" in text or "host key is known" in text:
            return HostKeyError(self._host_key_message(text))
        if "Permission denied" in text:
            who = self.settings.user or self.effective_config().get("user", "the current user")
            by_hand = (f"open the master yourself (ssh -MNf {shlex.quote(self.settings.host)}) "
                       "and simjobs uses it" if not self.uses_own_master else
                       "give the host a ControlPath in ~/.ssh/config and open the master "
                       f"yourself (ssh -MNf {shlex.quote(self.settings.host)}): simjobs uses it")
            return HostUnreachableError(
                f"{self.host} refused the login of {who} ({detail}); check the user and the "
                f"keys (identity_files, your agent, ~/.ssh/config); if the host asks for a "
                f"password or a second factor, {by_hand}")
        if "Connection refused" in text:
            listen = f"port {port}" if port else "its port"
            return HostUnreachableError(
                f"cannot connect to {self.host}: connection refused ({detail}); check that "
                f"the host is up and sshd listens on {listen}")
        if "timed out" in text:
            return HostUnreachableError(
                f"cannot connect to {self.host}: no answer within "
                f"{self.settings.connect_timeout:g} s ({detail}); check the host name, the "
                "port and the network")
        jump = self.effective_config().get("proxyjump", "none")
        if jump != "none" and ("kex_exchange_identification" in text
                               or "Connection closed by" in text):
            # The hop's ssh says nothing (ssh runs it quiet): name the likely causes.
            return HostUnreachableError(
                f"cannot connect to {self.host} through the jump host {jump} ({detail}); "
                "simjobs asks nothing on a terminal, so every jump host's key must be in "
                "your known_hosts and its login must need no password or code: check with "
                f"ssh -o BatchMode=yes {shlex.quote(jump.split(',')[0])} true")
        return HostUnreachableError(f"cannot connect to {self.host}: "
                                    f"{detail or f'ssh exited {result.exit_status}'}")

    def _known_hosts_file(self) -> str:
        if self.settings.known_hosts:
            return os.path.expanduser(self.settings.known_hosts)
        files = self.effective_config().get("userknownhostsfile", "~/.ssh/known_hosts")
        return os.path.expanduser(files.split()[0])

    def _host_key_message(self, ssh_said: str = "") -> str:
        """Why the host key was refused (unknown or changed), with the fingerprint the
        host offers (from ssh's own words, else ``ssh-keyscan``: a key exchange alone)
        and the commands that fix it."""
        config = self.effective_config()
        host = config.get("hostname", self.settings.host)
        try:
            port = int(config.get("port", self.settings.port))
        except ValueError:
            port = self.settings.port
        known_hosts = self._known_hosts_file()
        if "REMOTE HOST IDENTIFICATION HAS CHANGED" in ssh_said or "has changed" in ssh_said:
            changed = True
        elif "host key is known" in ssh_said:
            changed = False
        else:
            name = host if port == 22 else f"[{host}]:{port}"
            found = self._local(["ssh-keygen", "-F", name, "-f", known_hosts], 15.0)
            changed = found.exit_status == 0 and bool(found.stdout.strip())
        fingerprint = None
        said = re.search(r"(SHA256:[A-Za-z0-9+/=]+)", ssh_said)
        if said:
            fingerprint = said.group(1)
        elif config.get("proxyjump", "none") == "none" \
                and config.get("proxycommand", "none") == "none":
            fingerprint = self._scan_fingerprint(host, port, ssh_said)
        return host_key_message(host, port, known_hosts, changed, fingerprint)

    def _scan_fingerprint(self, host: str, port: int, ssh_said: str) -> Optional[str]:
        key_type = re.search(r"No (\S+) host key is known", ssh_said)
        argv = ["ssh-keyscan", "-T", str(max(1, math.ceil(self.settings.connect_timeout))),
                "-p", str(port)]
        if key_type:
            argv += ["-t", key_type.group(1).lower()]
        try:
            scan = subprocess.run([*argv, host], stdin=subprocess.DEVNULL,
                                  capture_output=True,
                                  timeout=self.settings.connect_timeout + 10, **_detached())
            listed = subprocess.run(["ssh-keygen", "-l", "-f", "-"], input=scan.stdout,
                                    capture_output=True, timeout=15, **_detached())
        except (OSError, subprocess.TimeoutExpired):
            return None  # the message is still right without it
        found = re.search(rb"(SHA256:[A-Za-z0-9+/=]+)", listed.stdout)
        return found.group(1).decode() if found else None

    # ---- one command

    def _channel_slots(self) -> threading.BoundedSemaphore:
        """The count of commands running at once on this runner's master: its own, or
        the one every runner of the process shares for the user's ControlPath."""
        if self.uses_own_master:
            return self._own_channels
        path = self.control_path
        cls = type(self)
        with cls._shared_channels_lock:
            slots = cls._shared_channels.get(path)
            if slots is None:
                slots = cls._shared_channels[path] = threading.BoundedSemaphore(
                    self.user_master_channels)
            return slots

    def _exec(self, command: str, input: Optional[bytes], timeout: float) -> CommandResult:
        """Run ``command`` over the master; a session the master refused (the server's
        MaxSessions, reached with the user's own sessions or other processes on it) is
        tried again after a short wait: nothing ran."""
        wait = self.refused_wait
        for _ in range(self.refused_retries):
            result = self._exec_once(command, input, timeout)
            if result.exit_status != 255 or not _session_refused(result.stderr):
                return result
            time.sleep(wait)  # another session ends meanwhile
            wait *= 2
        return self._exec_once(command, input, timeout)

    def _exec_once(self, command: str, input: Optional[bytes],
                   timeout: float) -> CommandResult:
        # ControlMaster=no: a command never becomes a master; the ProxyCommand is what
        # ssh would connect through without a master: it only says so (nothing is sent).
        # LogLevel=ERROR: no "Warning: ..." lines of ssh's own in the command's stderr.
        argv = self._argv("-o", "ControlMaster=no", "-o", "LogLevel=ERROR",
                          "-o", f"ProxyCommand=sh -c 'echo \"{NO_MASTER}\" >&2; exit 1'",
                          command=command)
        with self._channel_slots():
            self._check_socket_owner()  # the socket could change between commands
            with self._count_lock:
                self.commands_run += 1
            try:
                proc = subprocess.run(argv, input=input if input is not None else b"",
                                      capture_output=True, timeout=timeout, **_detached())
            except subprocess.TimeoutExpired:
                raise HostUnreachableError(
                    f"a command on {self.host} did not finish within {timeout:g} s") from None
            except OSError as exc:
                raise HostUnreachableError(f"cannot run {argv[0]}: {exc}") from None
        status = proc.returncode if proc.returncode >= 0 else -1
        return CommandResult(status, proc.stdout, proc.stderr)

    def _run(self, command: str, input: Optional[bytes], timeout: float) -> CommandResult:
        for attempt in (1, 2):
            self._ensure_master()
            result = self._exec(command, input, timeout)
            if result.exit_status != 255:
                return result
            with self._lock:
                self._master_up = False  # checked again before the next command
            if _session_refused(result.stderr):
                raise HostUnreachableError(
                    f"the master connection to {self.host} refused new sessions again and "
                    "again (the server's MaxSessions); close some of your own ssh sessions "
                    "on it, or raise MaxSessions in the server's sshd_config")
            if NO_MASTER.encode() in result.stderr:
                if attempt == 1:
                    continue  # the master ended; the command reached nothing: once more
                raise HostUnreachableError(
                    f"lost the master connection to {self.host} again at once; check the "
                    "host and ~/.ssh/config")
            detail = result.error_text()
            raise HostUnreachableError(
                f"lost the connection to {self.host}"
                + (f" ({detail})" if detail else " (ssh exited 255)"))
        raise AssertionError("unreachable")  # pragma: no cover

    # ---- the CommandRunner API

    def run(self, command: str, input: Optional[bytes] = None,
            timeout: Optional[float] = None) -> CommandResult:
        """Run ``command`` (a shell string for the remote login shell) with ``input``
        on its stdin, over the master connection (opened first when needed).

        Raises
        ------
        HostUnreachableError
            When the command could not be run (ssh exited 255: host down, login refused,
            master lost, host key refused: :class:`HostKeyError`; a timeout).
        """
        timeout = DEFAULT_COMMAND_TIMEOUT if timeout is None else timeout
        return self._run(command, input, timeout)

    def put_file(self, data: bytes, remote_path: str, timeout: Optional[float] = None) -> None:
        """Write ``data`` to ``remote_path`` (one command, the data on its stdin).

        Raises
        ------
        OSError
            If the remote side could not write the file.
        """
        result = self.run(f"cat > {shlex.quote(remote_path)}", data, timeout)
        if not result.ok:
            raise OSError(f"cannot write {remote_path!r} on {self.host}: "
                          f"{result.error_text() or f'exit status {result.exit_status}'}")

    def host_key_problem(self) -> str:
        """The message a refused host key gets (see :class:`HostKeyError`): whether the
        key is unknown or changed, its fingerprint, and the commands that fix it. Only
        a key exchange reaches the host (``ssh-keyscan``; none through a jump host)."""
        return self._host_key_message()

    @property
    def connected(self) -> bool:
        """Whether the master connection was up at the last command."""
        return self._master_up

    def disconnect(self) -> None:
        """Stop simjobs' own master (the next call opens a new one); a master of the
        user's ``ControlPath`` is left running."""
        with self._lock:
            self._master_up = False
            if self._own_dir is not None:
                self._local(self._argv("-O", "exit"), 15.0)

    def close(self) -> None:
        """Stop simjobs' own master and remove its private dir (a master of the user's
        ``ControlPath`` is left running). Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._master_up = False
            own_dir, self._own_dir = self._own_dir, None
            if own_dir is not None:
                self._local(self._argv("-O", "exit"), 15.0)
                _remove_private_dir(own_dir)
        self.close_pool()

    def __enter__(self) -> "OpenSSHRunner":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"OpenSSHRunner({self.host!r})"


def _session_refused(stderr: bytes) -> bool:
    """Whether ssh's words say the master refused to open a session (its server's
    MaxSessions reached): nothing ran, so the command may be tried again."""
    return b"Session open refused" in stderr or b"session request failed" in stderr


def _remove_private_dir(path: str) -> None:
    """Remove simjobs' control dir: what is in it (a socket ssh left) is unlinked, never
    followed; only the owner can write there."""
    try:
        with os.scandir(path) as entries:
            for entry in entries:
                if not entry.is_dir(follow_symlinks=False):
                    os.unlink(entry.path)
        os.rmdir(path)
    except OSError:
        pass  # a master still ending; the dir is private and empty soon
