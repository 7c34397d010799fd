"""``simjobs demo``: demo jobs at two levels on the demo simulator, in the app or the
live table."""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import sys
from importlib import resources
from pathlib import Path

from ..core.command import hint
from ..core.files import atomic_write
from ..core.manager import JobManager
from ..design import latin_hypercube
from .app import check_theme, run_app
from .errors import EXIT_FAILURE, CliError
from .output import note
from .run import headless_run


DEMO_CONFIG = "demo.toml"



DEMO_SEED = 20240601



def default_demo_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("simjobs")) / "demo"



def install_demo(directory: Path) -> Path:
    """Copy the bundled demo config into ``directory`` (kept if already there)."""
    config_path = directory / DEMO_CONFIG
    if not config_path.exists():
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CliError(f"cannot create the demo directory {directory} ({exc.strerror})",
                           EXIT_FAILURE) from None
        template = resources.files("simjobs.demo").joinpath(DEMO_CONFIG).read_text("utf-8")
        with contextlib.suppress(FileExistsError):  # made meanwhile: kept, as above
            atomic_write(config_path, template, replace=False)
    return config_path



def demo_jobs(total: int) -> dict[int, int]:
    """How many demo jobs to submit per level: about a quarter at level 2."""
    level2 = max(1, total // 4) if total >= 2 else 0
    return {1: total - level2, 2: level2}



def cmd_demo(args: argparse.Namespace) -> int:
    if args.jobs < 1:
        raise CliError("--jobs must be at least 1")
    directory = Path(args.dir).expanduser() if args.dir else default_demo_dir()
    config_path = install_demo(directory)
    if args.fast:
        os.environ["SIMJOBS_DEMO_FAST"] = "1"  # inherited by the simulator processes
    from ..config import load_config

    config = load_config(config_path)
    note(f"demo: config {config_path}, log {config.log_path}")

    def submit_mix(manager: JobManager) -> None:
        if manager.active_jobs():
            note("demo: jobs from an earlier run are still going; following them")
            return
        log = manager.simulations_log
        dim = log.input_dim
        for level, count in demo_jobs(args.jobs).items():
            if count and level in manager.levels:
                design = latin_hypercube(count, [0.0] * dim, [1.0] * dim,
                                         seed=DEMO_SEED + len(log) + level)
                # Four decimals read better in the demo's table than seventeen.
                manager.submit_many([[round(v, 4) for v in x] for x in design], level)

    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    if args.headless or not interactive:
        # Piped, or asked for: the plain live table, run until every job has ended.
        code = headless_run(config, until_done=True, prepare=submit_mix,
                            title=f"simjobs demo ({directory})")
        note(f"demo: see the jobs with: {hint('status --config ' + shlex.quote(str(config_path)))}")
        return code
    check_theme(args.theme)
    from ..app.backend import ManagedBackend, open_backend

    backend = open_backend(config)
    if isinstance(backend, ManagedBackend):
        submit_mix(backend.manager)  # the first screen is alive
    code = run_app(backend, args.theme)
    note(f"demo: open it again with: {hint('app --config ' + shlex.quote(str(config_path)))}")
    return code
