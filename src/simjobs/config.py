"""The TOML configuration: where the simulations log lives and which interfaces run jobs.

A config file looks like this (every key is described in the README)::

    [log]
    path = "runs.csv"          # relative paths resolve against the config file's directory
    input_dim = 2              # needed to create the log; read from the log when omitted

    [manager]
    polling_interval = 1.0     # seconds between two status polls of an interface

    [[interfaces]]
    kind = "local"
    name = "local-fast"
    level = 1
    command = "{python} -m simjobs.demo.simulator --level 1"   # {python}: this Python
    workspace = "work/local-fast"
    max_jobs = 4               # default: the number of CPUs

    [[interfaces]]
    kind = "ssh"               # a remote host over SSH
    name = "server"
    level = 2
    host = "sim.example.org"
    port = 22
    user = "me"                # default: the current user (or ~/.ssh/config's)
    workspace = "simjobs/server"          # remote; relative paths: the remote home
    command = "python3 /opt/sim/run.py"   # runs remotely: not looked up here
    identity_file = "~/.ssh/id_ed25519"   # default: the ssh agent and default keys
    known_hosts = "~/.ssh/known_hosts"    # the default; host keys are always checked
    transport = "asyncssh"     # or "openssh": the system ssh, ~/.ssh/config, ControlMaster

    [[interfaces]]
    kind = "slurm"             # sbatch/squeue here, or on a login node: add [interfaces.ssh]
    name = "cluster"
    level = 3
    workspace = "work/cluster"
    command = "{python} sim.py"
    partition = "debug"
    sbatch_args = ["--time=00:10:00"]

:func:`load_config` validates everything before anything touches the disk: an invalid
config raises :class:`ConfigError` with one line naming the file, the key (and the
line, for TOML syntax errors) and the fix, and creates nothing. Workspaces and the log
are created only by :meth:`Config.build_interfaces` and :meth:`Config.open_log`.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import math
import os
import re
import shlex
import shutil
import sys
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any, Optional, Union

from .core.command import hint
from .core.errors import SimjobsError
from .core.hardware import HardwareInterface
from .core.log import SimulationsLog
from .interfaces.args import describe_value as _describe
from .interfaces.local import default_max_jobs, resolve_command
from .interfaces.runner import TRANSPORTS, SSHSettings

#: Seconds between two status polls of an interface when the config does not say.
#: Shorter than the JobManager's own default (10 s, exauq's): a config drives an
#: interactive tool, where a job finishing should show up within about a second.
DEFAULT_POLLING_INTERVAL = 1.0

CONFIG_FILE_NAME = "simjobs.toml"
CONFIG_ENV_VAR = "SIMJOBS_CONFIG"

SUPPORTED_KINDS = ("local", "ssh", "slurm", "pbs", "lsf", "sge")
#: Batch schedulers besides Slurm: ``queue`` and ``submit_args`` instead of Slurm's
#: ``partition`` and ``sbatch_args`` (PBS and LSF have not met a real server yet).
_BATCH_KINDS = ("pbs", "lsf", "sge")
LATER_KINDS: tuple[str, ...] = ()  # kinds named but not available yet

_TABLE_KEYS = {
    "log": ("path", "input_dim"),
    "manager": ("polling_interval",),
}
_INTERFACE_KEYS = ("kind", "name", "level", "command", "workspace", "max_jobs")
#: How to reach a host over SSH: keys of an ssh interface, and of a slurm one's ssh table.
_SSH_KEYS = ("host", "port", "user", "identity_file", "identity_files", "known_hosts",
             "connect_timeout", "transport")
_KIND_KEYS = {
    "local": _INTERFACE_KEYS,
    "ssh": _INTERFACE_KEYS + _SSH_KEYS,
    "slurm": _INTERFACE_KEYS + ("partition", "sbatch_args", "ssh"),
    **{kind: _INTERFACE_KEYS + ("queue", "submit_args", "ssh") for kind in _BATCH_KINDS},
}


class ConfigError(SimjobsError):
    """The configuration file is missing or invalid (the message says where and how to fix it)."""


@dataclasses.dataclass(frozen=True)
class InterfaceSpec:
    """One validated ``[[interfaces]]`` entry; :meth:`build` makes the interface."""

    index: int
    kind: str
    name: str
    level: int
    # Local commands: argv from resolve_command ({python} substituted, argv[0] absolute).
    # Remote ones (ssh, slurm with ssh): the command split like a shell would, untouched.
    command: tuple[str, ...]
    # Local: absolute. Remote (``ssh`` set): the remote path as written (relative paths
    # are relative to the remote home).
    workspace: Union[Path, PurePosixPath]
    max_jobs: Optional[int]  # None: the interface's default (the number of CPUs)
    ssh: Optional[SSHSettings] = None  # kind "ssh", or "slurm" driven through SSH
    partition: Optional[str] = None  # slurm; the queue of pbs, lsf, sge
    sbatch_args: tuple[str, ...] = ()  # slurm; the submit_args of pbs, lsf, sge

    @property
    def effective_max_jobs(self) -> Optional[int]:
        """How many jobs run at once: the configured number, else this machine's CPUs
        for a local interface; None (not known here) for SSH (the remote host's CPUs,
        learnt on first contact) and Slurm (no limit of simjobs')."""
        if self.max_jobs is not None:
            return self.max_jobs
        return default_max_jobs() if self.kind == "local" else None

    @property
    def host(self) -> Optional[str]:
        """``user@host:port`` for an interface reached over SSH, else None (this machine)."""
        return self.ssh.display if self.ssh is not None else None

    def build(self) -> HardwareInterface:
        """Create the interface (and, for a local one, its workspace). Remote hosts are
        not contacted here: the first submit or poll connects."""
        if self.kind == "ssh":
            from .interfaces.ssh import SSHInterface

            assert self.ssh is not None
            return SSHInterface.from_settings(
                self.name, self.level, self.ssh, list(self.command), str(self.workspace),
                max_jobs=self.max_jobs,
            )
        if self.kind == "slurm":
            from .interfaces.slurm import SlurmInterface

            return SlurmInterface(
                self.name, self.level, list(self.command),
                str(self.workspace) if self.ssh is not None else self.workspace,
                partition=self.partition, sbatch_args=self.sbatch_args,
                max_jobs=self.max_jobs, ssh=self.ssh,
            )
        if self.kind in _BATCH_KINDS:
            from .interfaces.batch import batch_interface_class

            return batch_interface_class(self.kind)(
                self.name, self.level, list(self.command),
                str(self.workspace) if self.ssh is not None else self.workspace,
                queue=self.partition, submit_args=self.sbatch_args,
                max_jobs=self.max_jobs, ssh=self.ssh,
            )
        from .interfaces.local import LocalInterface

        return LocalInterface(
            self.name, self.level, list(self.command), self.workspace, max_jobs=self.max_jobs
        )


@dataclasses.dataclass(frozen=True)
class Config:
    """A validated simjobs configuration.

    Attributes
    ----------
    path : Path
        The config file (absolute).
    log_path : Path
        The simulations log (absolute).
    input_dim : int or None
        The input dimension; None when the config leaves it to the existing log.
    polling_interval : float
        Seconds between two status polls of an interface.
    interfaces : list[InterfaceSpec]
        The interfaces, in the order of the file.
    """

    path: Path
    log_path: Path
    input_dim: Optional[int]
    polling_interval: float
    interfaces: list[InterfaceSpec]

    @property
    def levels(self) -> tuple[int, ...]:
        """The levels served by at least one interface."""
        return tuple(sorted({spec.level for spec in self.interfaces}))

    def build_interfaces(self) -> list[HardwareInterface]:
        """Create the configured interfaces, creating their workspaces when missing.

        Raises
        ------
        ConfigError
            If an interface cannot be created (e.g. its workspace cannot be made).
        """
        built = []
        for spec in self.interfaces:
            try:
                built.append(spec.build())
            except (ValueError, TypeError) as exc:
                raise ConfigError(f"{self.path.name}: interfaces[{spec.index}]: {exc}") from None
        return built

    def open_log(self, readonly: bool = False) -> SimulationsLog:
        """Open the simulations log (created when missing, unless ``readonly``)."""
        return SimulationsLog.open(self.log_path, self.input_dim, readonly=readonly)


# ---- finding the config -----------------------------------------------------------


def user_config_path() -> Path:
    """The per-user config file: ``<user config dir>/simjobs/config.toml``."""
    import platformdirs

    return Path(platformdirs.user_config_dir("simjobs")) / "config.toml"


def find_config(explicit: Union[str, os.PathLike, None] = None) -> Path:
    """The config file to use.

    ``explicit`` (``--config``) when given, else ``$SIMJOBS_CONFIG``, else
    ``./simjobs.toml``, else the user config file (see :func:`user_config_path`).

    Raises
    ------
    ConfigError
        If the named file does not exist, or none of the places holds one.
    """
    return config_source(explicit)[0]


def config_source(explicit: Union[str, os.PathLike, None] = None) -> tuple[Path, str]:
    """The config file to use (as :func:`find_config`) and why: where it came from
    ("--config", "$SIMJOBS_CONFIG", "./simjobs.toml in the working directory", "the
    user config file").

    Raises
    ------
    ConfigError
        As :func:`find_config`.
    """
    for given, source in ((explicit, "--config"), (os.environ.get(CONFIG_ENV_VAR), CONFIG_ENV_VAR)):
        if given:
            path = Path(given).expanduser()
            if not path.is_file():
                raise ConfigError(f"{given}: no such config file (from {source}); check the path")
            why = "given with --config" if source == "--config" else f"named by ${source}"
            return path, why
    for candidate, why in ((Path(CONFIG_FILE_NAME),
                            f"./{CONFIG_FILE_NAME} in the working directory (no --config, "
                            f"no ${CONFIG_ENV_VAR})"),
                           (user_config_path(),
                            f"the user config file (no --config, no ${CONFIG_ENV_VAR}, no "
                            f"./{CONFIG_FILE_NAME})")):
        if candidate.is_file():
            return candidate, why
    raise ConfigError(
        f"no config file: pass --config FILE, or create ./{CONFIG_FILE_NAME} or "
        f"{user_config_path()} (see the README; '{hint('config init')}' writes an example)"
    )


# ---- loading and validating ---------------------------------------------------------


def load_config(path: Union[str, os.PathLike], *, readonly: bool = False) -> Config:
    """Read and validate a config file. Nothing is created on disk.

    ``readonly``: the config is only read from (``simjobs status``...), so the log's
    and the workspaces' directories need not be writable.

    Raises
    ------
    ConfigError
        With one line naming the file, the key and the fix, for the first problem found.
    """
    return _Validator(Path(path), readonly=readonly).run()


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class _Validator:
    def __init__(self, path: Path, readonly: bool = False):
        self.path = path
        self.readonly = readonly
        self.label = str(path)
        self.base = path.expanduser().resolve().parent

    def fail(self, message: str) -> ConfigError:
        return ConfigError(f"{self.label}: {message}")

    def run(self) -> Config:
        data = self.read()
        self.check_keys(data, ("log", "manager", "interfaces"), "the top level")
        log_table = self.table(data, "log")
        manager_table = self.table(data, "manager")
        for name, table in (("log", log_table), ("manager", manager_table)):
            self.check_keys(table, _TABLE_KEYS[name], f"[{name}]")

        log_path = self.log_path(log_table)
        input_dim = self.input_dim(log_table, log_path)
        polling_interval = self.polling_interval(manager_table)
        interfaces = self.interfaces(data)
        return Config(
            path=self.path.expanduser().resolve(),
            log_path=log_path,
            input_dim=input_dim,
            polling_interval=polling_interval,
            interfaces=interfaces,
        )

    def read(self) -> dict:
        try:
            text = self.path.expanduser().read_bytes().decode("utf-8")
        except FileNotFoundError:
            raise ConfigError(f"{self.label}: no such config file; check the path") from None
        except IsADirectoryError:
            raise ConfigError(f"{self.label} is a directory, not a config file") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{self.label}: not UTF-8 text; save it as UTF-8") from None
        except OSError as exc:
            raise ConfigError(f"{self.label}: cannot read it ({exc.strerror})") from None
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            message = str(exc)
            match = re.search(r"\(at line (\d+), column (\d+)\)$", message)
            if match:
                detail = message[: match.start()].rstrip()
                raise ConfigError(
                    f"{self.label} line {match.group(1)}: invalid TOML: {detail} "
                    f"(column {match.group(2)}); fix the syntax"
                ) from None
            raise ConfigError(f"{self.label}: invalid TOML: {message}; fix the syntax") from None

    def check_keys(self, table: dict, allowed: tuple[str, ...], where: str) -> None:
        for key in table:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f"did you mean '{close[0]}'?" if close else (
                    f"allowed keys: {', '.join(allowed)}")
                raise self.fail(f"unknown key '{key}' in {where}; {hint}")

    def table(self, data: dict, name: str) -> dict:
        table = data.get(name, {})
        if not isinstance(table, dict):
            raise self.fail(f"'{name}' must be a table ([{name}]), not {_describe(table)}")
        return table

    def resolve(self, value: str) -> Path:
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.base / path

    def log_path(self, table: dict) -> Path:
        value = table.get("path")
        if value is None:
            raise self.fail('log.path is missing; add [log] path = "runs.csv"')
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"log.path must be a file name such as \"runs.csv\" (got {_describe(value)})")
        path = self.resolve(value)
        if path.is_dir():
            raise self.fail(f"log.path {value!r} is a directory; name a file such as \"runs.csv\"")
        parent = path.parent
        if not parent.is_dir():
            raise self.fail(
                f"log.path {value!r}: the directory {str(parent)!r} does not exist; create it "
                "or choose another path"
            )
        if not self.readonly and not os.access(parent, os.W_OK | os.X_OK):
            raise self.fail(
                f"log.path {value!r}: the directory {str(parent)!r} is not writable; "
                "choose a directory you can write to"
            )
        return path

    def input_dim(self, table: dict, log_path: Path) -> Optional[int]:
        if "input_dim" not in table:
            if not log_path.exists():
                raise self.fail(
                    "log.input_dim is missing and the log does not exist yet; add "
                    "[log] input_dim = N (the number of coordinates of an input)"
                )
            return None
        value = table["input_dim"]
        if not _is_int(value) or value < 1:
            raise self.fail(f"log.input_dim must be an integer >= 1 (got {_describe(value)})")
        return value

    def polling_interval(self, table: dict) -> float:
        value = table.get("polling_interval", DEFAULT_POLLING_INTERVAL)
        if not _is_number(value) or not math.isfinite(value) or value <= 0:
            raise self.fail(
                "manager.polling_interval must be a number of seconds > 0 "
                f"(got {_describe(value)})"
            )
        return float(value)

    def interfaces(self, data: dict) -> list[InterfaceSpec]:
        entries = data.get("interfaces")
        if entries is None or entries == []:
            raise self.fail(
                "no interfaces: add at least one [[interfaces]] table (kind, name, level, "
                "command, workspace)"
            )
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise self.fail("'interfaces' must be an array of tables ([[interfaces]])")
        specs: list[InterfaceSpec] = []
        seen: dict[str, int] = {}
        for index, entry in enumerate(entries):
            spec = self.interface(index, entry)
            if spec.name in seen:
                raise self.fail(
                    f"interfaces[{index}].name {spec.name!r} is already used by "
                    f"interfaces[{seen[spec.name]}]; give each interface its own name"
                )
            seen[spec.name] = index
            specs.append(spec)
        return specs

    def interface(self, index: int, entry: dict) -> InterfaceSpec:
        where = f"interfaces[{index}]"
        kind = self.interface_kind(where, entry)
        self.check_keys(entry, _KIND_KEYS[kind], where)
        name, level, max_jobs = self.interface_name_level(where, entry)
        ssh = self.interface_ssh(where, kind, entry)
        if ssh is None:
            command, workspace = self.local_command_workspace(where, entry, name)
        else:
            command, workspace = self.remote_command_workspace(where, entry, name, ssh)
        partition, sbatch_args = (
            self.batch_options(where, entry, "partition", "sbatch_args")
            if kind == "slurm" else
            self.batch_options(where, entry, "queue", "submit_args")
            if kind in _BATCH_KINDS else (None, ()))
        return InterfaceSpec(index, kind, name, level, command, workspace, max_jobs,
                             ssh=ssh, partition=partition, sbatch_args=sbatch_args)

    def interface_kind(self, where: str, entry: dict) -> str:
        kind = entry.get("kind")
        if kind is None:
            raise self.fail(f'{where}.kind is missing; add kind = "local"')
        if kind in LATER_KINDS:
            raise self.fail(
                f"{where}.kind {kind!r} is not supported yet; use kind = \"local\" for now"
            )
        if kind not in SUPPORTED_KINDS:
            raise self.fail(
                f"{where}.kind must be one of {', '.join(repr(k) for k in SUPPORTED_KINDS)} "
                f"(got {_describe(kind)})"
            )
        return kind

    def interface_name_level(self, where: str, entry: dict) -> tuple[str, int, Optional[int]]:
        """An interface's name, level and max_jobs (None: the kind's default)."""
        name = entry.get("name")
        if name is None:
            raise self.fail(f'{where}.name is missing; add name = "..." (unique per interface)')
        if not isinstance(name, str) or not name.strip():
            raise self.fail(f"{where}.name must be a non-empty string (got {_describe(name)})")

        if "level" not in entry:
            raise self.fail(f"{where}.level is missing; add level = 1 (or the level it serves)")
        level = entry["level"]
        if not _is_int(level) or level < 1:
            raise self.fail(f"{where}.level must be an integer >= 1 (got {_describe(level)})")

        max_jobs = entry.get("max_jobs")
        if max_jobs is not None and (not _is_int(max_jobs) or max_jobs < 1):
            raise self.fail(f"{where}.max_jobs must be an integer >= 1 (got {_describe(max_jobs)})")
        return name, level, max_jobs

    def interface_ssh(self, where: str, kind: str, entry: dict) -> Optional[SSHSettings]:
        """The SSH settings of an ssh interface, or of a slurm one with an ``ssh`` table."""
        if kind == "ssh":
            return self.ssh_settings(where, entry)
        if (kind == "slurm" or kind in _BATCH_KINDS) and "ssh" in entry:
            table = entry["ssh"]
            if not isinstance(table, dict):
                raise self.fail(f"{where}.ssh must be a table ([{where.replace('[', '.').rstrip(']')}"
                                f".ssh] or ssh = {{ host = \"...\" }}), not {_describe(table)}")
            self.check_keys(table, _SSH_KEYS, f"{where}.ssh")
            return self.ssh_settings(f"{where}.ssh", table)
        return None

    def local_command_workspace(self, where: str, entry: dict,
                                name: str) -> tuple[tuple[str, ...], Path]:
        command = self.command(where, entry.get("command"))
        workspace_value = entry.get("workspace", f"work/{name}")
        if not isinstance(workspace_value, str) or not workspace_value.strip():
            raise self.fail(
                f"{where}.workspace must be a directory path (got {_describe(workspace_value)})"
            )
        workspace = self.resolve(workspace_value)
        self.check_creatable_dir(f"{where}.workspace", workspace_value, workspace)
        return command, workspace

    def remote_command_workspace(self, where: str, entry: dict, name: str,
                                 ssh: SSHSettings) -> tuple[tuple[str, ...], PurePosixPath]:
        command = self.remote_command(where, entry.get("command"))
        workspace_value = entry.get("workspace", f"simjobs/{name}")
        if not isinstance(workspace_value, str) or not workspace_value.strip() \
                or "\n" in workspace_value:
            raise self.fail(
                f"{where}.workspace must be a directory path on {ssh.host} "
                f"(got {_describe(workspace_value)})"
            )
        return command, PurePosixPath(workspace_value)

    def batch_options(self, where: str, entry: dict, queue_key: str,
                      args_key: str) -> tuple[Optional[str], tuple[str, ...]]:
        """A batch interface's queue (Slurm's partition; None: the scheduler's default)
        and extra submit arguments (Slurm's sbatch_args)."""
        partition = entry.get(queue_key)
        if partition is not None and (not isinstance(partition, str) or not partition.strip()
                                      or any(c.isspace() for c in partition)):
            raise self.fail(f'{where}.{queue_key} must be a {queue_key} name such as "debug" '
                            f"(got {_describe(partition)})")
        args = entry.get(args_key, [])
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise self.fail(f'{where}.{args_key} must be a list of strings such as '
                            f'["--time=00:10:00"] (got {_describe(args)})')
        sbatch_args = tuple(args)
        if queue_key == "partition" and "--requeue" in sbatch_args:
            logging.getLogger("simjobs").warning(
                "simjobs: %s.sbatch_args has --requeue, which conflicts with simjobs' "
                "run-once guard: a requeued job's rerun finds it already started and "
                "ends without running the simulator (Failed); remove --requeue "
                "(simjobs sends --no-requeue)", where)
        return partition, sbatch_args

    def local_file(self, key: str, value: Any, what: str) -> str:
        """A file on this machine named by the config (``~`` and relative paths resolved)."""
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{key} must be the path of {what} (got {_describe(value)})")
        path = self.resolve(value)
        if not path.is_file():
            raise self.fail(f"{key} {value!r}: no such file ({str(path)!r}); check the path")
        return str(path)

    def ssh_settings(self, where: str, table: dict) -> SSHSettings:
        host = table.get("host")
        if host is None:
            raise self.fail(f'{where}.host is missing; add host = "..." (the SSH server)')
        if not isinstance(host, str) or not host.strip() or any(c.isspace() for c in host):
            raise self.fail(f"{where}.host must be a host name or address (got {_describe(host)})")
        port = table.get("port", 22)
        if not _is_int(port) or not 0 < port < 65536:
            raise self.fail(f"{where}.port must be a port number 1-65535 (got {_describe(port)})")
        user = table.get("user")
        if user is not None and (not isinstance(user, str) or not user.strip()):
            raise self.fail(f"{where}.user must be a user name (got {_describe(user)})")
        files = self.identity_files(where, table)
        known_hosts = self.known_hosts(where, table, host, port)
        timeout = table.get("connect_timeout", 10.0)
        if not _is_number(timeout) or not math.isfinite(timeout) or timeout <= 0:
            raise self.fail(f"{where}.connect_timeout must be a number of seconds > 0 "
                            f"(got {_describe(timeout)})")
        return SSHSettings(host=host, port=port, user=user, identity_files=tuple(files),
                           known_hosts=known_hosts, connect_timeout=float(timeout),
                           transport=self.transport(where, table))

    def transport(self, where: str, table: dict) -> str:
        """How commands reach the host: asyncssh (the default) or the system ssh."""
        transport = table.get("transport", "asyncssh")
        if transport not in TRANSPORTS:
            choices = ", ".join(repr(t) for t in TRANSPORTS)
            raise self.fail(f"{where}.transport must be one of {choices} "
                            f"(got {_describe(transport)})")
        if transport == "openssh" and shutil.which("ssh") is None:
            raise self.fail(f'{where}.transport = "openssh" runs the ssh program, which is not '
                            'installed here; install OpenSSH\'s client (openssh-client) or use '
                            'transport = "asyncssh"')
        return transport

    def identity_files(self, where: str, table: dict) -> list[str]:
        """The private keys named by ``identity_file`` or ``identity_files`` (not both)."""
        if "identity_file" in table and "identity_files" in table:
            raise self.fail(f"{where}: give identity_file or identity_files, not both")
        if "identity_file" in table:
            return [self.local_file(f"{where}.identity_file", table["identity_file"],
                                    "a private key")]
        value = table.get("identity_files", [])
        if not isinstance(value, list):
            raise self.fail(f'{where}.identity_files must be a list of paths such as '
                            f'["~/.ssh/id_ed25519"] (got {_describe(value)})')
        return [self.local_file(f"{where}.identity_files[{i}]", v, "a private key")
                for i, v in enumerate(value)]

    def known_hosts(self, where: str, table: dict, host: str, port: int) -> Optional[str]:
        """The known_hosts file named, resolved; its absence is an error naming the
        ssh-keyscan line that makes it."""
        known_hosts = table.get("known_hosts")
        if known_hosts is None:
            return None
        if not isinstance(known_hosts, str) or not known_hosts.strip():
            raise self.fail(f"{where}.known_hosts must be the path of a known_hosts file "
                            f"(got {_describe(known_hosts)})")
        path = self.resolve(known_hosts)
        if not path.is_file():
            target = f"[{host}]:{port}" if port != 22 else host
            raise self.fail(
                f"{where}.known_hosts {known_hosts!r}: no such file ({str(path)!r}); "
                f"create it with: ssh-keyscan -p {port} {host} >> {shlex.quote(str(path))} "
                f"(it should then list {target})"
            )
        return str(path)

    def remote_command(self, where: str, value: Any) -> tuple[str, ...]:
        """A command run on a remote host: checked for syntax only, never looked up here."""
        if value is None:
            raise self.fail(
                f'{where}.command is missing; add the simulator as the remote host runs it, '
                'e.g. command = "python3 /path/to/sim.py"'
            )
        if isinstance(value, str):
            try:
                argv = shlex.split(value)
            except ValueError as exc:
                raise self.fail(f"{where}.command cannot be parsed ({exc}); check its quotes") \
                    from None
        elif isinstance(value, list) and all(isinstance(a, str) for a in value):
            argv = list(value)
        else:
            raise self.fail(f"{where}.command must be a string or a list of strings "
                            f"(got {_describe(value)})")
        if not argv or not argv[0].strip():
            raise self.fail(f'{where}.command is empty; give the simulator to run, e.g. '
                            '"python3 /path/to/sim.py"')
        if any("{python}" in a for a in argv):
            raise self.fail(f"{where}.command: {{python}} is this machine's Python, which the "
                            "remote host does not have; name the remote interpreter, e.g. python3")
        return tuple(argv)

    def command(self, where: str, value: Any) -> tuple[str, ...]:
        if value is None:
            raise self.fail(
                f'{where}.command is missing; add the simulator to run, e.g. '
                'command = "{python} sim.py"'
            )
        try:
            # The same checks as LocalInterface's; a relative program path resolves
            # against the config file's directory, {python} is this Python.
            argv = resolve_command(
                value, self.base, placeholders={"{python}": sys.executable},
                what=f"{where}.command",
            )
        except ValueError as exc:
            raise self.fail(str(exc)) from None
        return tuple(argv)

    def check_creatable_dir(self, key: str, value: str, path: Path) -> None:
        """The directory exists and is writable, or could be created: checked, not made."""
        probe = path
        while not probe.exists():
            if probe.parent == probe:
                break
            probe = probe.parent
        if not probe.is_dir():
            raise self.fail(f"{key} {value!r}: {str(probe)!r} is a file, not a directory; "
                            "choose another path")
        if not self.readonly and not os.access(probe, os.W_OK | os.X_OK):
            raise self.fail(f"{key} {value!r}: {str(probe)!r} is not writable; "
                            "choose a directory you can write to")
