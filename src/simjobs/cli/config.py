"""``simjobs config check|path|init``: validate the config, say which file is used,
write an example."""

from __future__ import annotations

import argparse
import os
import shlex
from importlib import resources
from pathlib import Path

from ..core.command import hint
from ..core.files import atomic_write
from .errors import EXIT_OK, CliError
from .output import note, stdout_console


CONFIG_EXAMPLE = "config_example.toml"



def cmd_config_check(args: argparse.Namespace) -> int:
    """``simjobs config check``: validate the config; a summary, or the one-line error."""
    from ..config import config_source, load_config

    path, why = config_source(args.config)
    config = load_config(path)  # a ConfigError is the one line, exit 2 (_exit_code)
    out = stdout_console()
    dim = config.input_dim if config.input_dim is not None else "read from the log"
    out.print(f"{path.resolve()}: ok; {why}")
    out.print(f"  log: {config.log_path} (input_dim {dim}"
              f"{', exists' if config.log_path.exists() else ', created at the first run'})")
    out.print(f"  polling interval: {config.polling_interval:g} s")
    for spec in config.interfaces:
        where = f" on {spec.host}" if spec.host else ""
        out.print(f"  interface {spec.name}: {spec.kind}{where}, level {spec.level}, "
                  f"max_jobs {spec.effective_max_jobs}")
    return EXIT_OK



def cmd_config_path(args: argparse.Namespace) -> int:
    """``simjobs config path``: which config file a command would use, and why."""
    from ..config import config_source

    path, why = config_source(args.config)
    print(path.resolve())
    note(f"because: {why}")
    return EXIT_OK



def cmd_config_init(args: argparse.Namespace) -> int:
    """``simjobs config init [FILE]``: write a commented example config, never over a
    file (the file is created with O_EXCL)."""
    from ..config import CONFIG_FILE_NAME, user_config_path

    if args.user:
        if args.file:
            raise CliError("give FILE or --user, not both")
        target = user_config_path()
        target.parent.mkdir(parents=True, exist_ok=True)
    else:
        target = Path(args.file or CONFIG_FILE_NAME).expanduser()
    if os.path.lexists(target):
        raise CliError(f"{target} exists; simjobs config init never overwrites a file "
                       "(remove it, or name another file)")
    if not target.parent.is_dir():
        raise CliError(f"{target}: the directory {target.parent} does not exist")
    text = resources.files("simjobs").joinpath(CONFIG_EXAMPLE).read_text("utf-8")
    try:
        atomic_write(target, text, replace=False)
    except FileExistsError:
        raise CliError(f"{target} exists; simjobs config init never overwrites a file "
                       "(remove it, or name another file)") from None
    note(f"wrote {target}; edit it, then check it with "
          f"'{hint('config check --config ' + shlex.quote(str(target)))}'")
    return EXIT_OK
