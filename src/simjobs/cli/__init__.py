"""The ``simjobs`` command line: run a manager, submit, inspect, cancel, resubmit, export.

Every subcommand reads the TOML config (``--config FILE``; see :mod:`simjobs.config`
for where it is looked for otherwise). Read-only subcommands (``status``, ``export``,
``interfaces``) also take ``--log PATH`` to read a log without a config.

Commands that change jobs (``submit``, ``cancel``, ``resubmit``) hand their request to
the process managing the log when there is one (``simjobs run``, the app), and
otherwise act themselves: they start a JobManager, act, wait until the hardware has
the jobs (or the cancels went through) and shut it down; local jobs keep running.
When a process that runs no manager holds the log open for writing (a script's
SimulationsLog), they, and ``run``, fail at once, naming it. ``cancel`` of jobs that
have all ended answers from the log, starting no manager.

Exit codes: 0 success, 1 runtime failure (log managed or held open elsewhere,
unreadable log, manager not answering, nothing could be cancelled), 2 bad usage or
input (bad config, unknown job ids, bad input values, a log path that is no log), 130
interrupted. Errors and warnings are one line each on stderr (``simjobs: error: ...``,
``simjobs: warning: ...``).

Layout: :mod:`.parser` builds the parser and holds :func:`main`; one module per command
(or small group: ``config``); shared pieces in :mod:`.errors` (exit codes, CliError),
:mod:`.output`, :mod:`.logs` (config and log access), :mod:`.handover`, :mod:`.inputs`,
:mod:`.filters`; :mod:`.progress` is the live table of ``simjobs run``.
"""

from .parser import main

__all__ = ["main"]
