"""``simjobs resubmit``: failed, failed-submit or cancelled jobs again, as new jobs."""

from __future__ import annotations

import argparse

from ..core.errors import InvalidJobStatusError
from ..core.manager import JobManager
from ..core.records import LogRecord
from ..core.types import RESUBMITTABLE_STATUSES
from .errors import EXIT_OK, CliError
from .filters import check_known, has_filter, parse_job_ids, select_records
from .handover import JobWatch, hand_over_or_act, not_managed_note, wait_submitted
from .inputs import check_level
from .logs import command_config, read_log
from .output import note, print_json


def _check_resubmittable(records: list[LogRecord], again: bool) -> None:
    """Refuse jobs named by id that cannot be resubmitted (or, without ``again``, were
    already): named jobs are never dropped silently, as a filter's are."""
    for r in records:
        if r.status not in RESUBMITTABLE_STATUSES:
            raise InvalidJobStatusError(
                f"job {r.job_id} is {r.status.value}: only failed, failed-submit or "
                "cancelled jobs can be resubmitted", status=r.status)
        if r.resubmitted_as and not again:
            raise InvalidJobStatusError(
                f"job {r.job_id} was already resubmitted as "
                f"{', '.join(r.resubmitted_as)}; add --again to resubmit it once more",
                status=r.status)


def cmd_resubmit(args: argparse.Namespace) -> int:
    config = command_config(args)
    ids = parse_job_ids(args.ids)
    if not ids and not has_filter(args):
        raise CliError("name job ids or a filter (e.g. -s failed); resubmit never picks "
                       "every job by itself")
    with read_log(args, config) as (log, _):
        if ids:
            check_known(log, ids)
        records, _ = select_records(log, args, None)
    if ids:
        _check_resubmittable(records, args.again)
    else:
        # A filter picks only jobs that can be resubmitted and (without --again) were
        # not already.
        records = [r for r in records if r.status in RESUBMITTABLE_STATUSES
                   and (args.again or not r.resubmitted_as)]
    if not records:
        note("no failed, failed-submit or cancelled job matches: nothing resubmitted")
        if args.json:
            print_json({"pairs": []})
        return EXIT_OK
    for level in sorted({r.level for r in records}):
        check_level(config, level)
    old_ids = [r.job_id for r in records]

    def act(manager: JobManager) -> dict:
        with JobWatch(manager) as watch:
            jobs = manager.resubmit(old_ids, again=args.again)
            new_ids = [str(j.id) for j in jobs]
            waiting = wait_submitted(watch, new_ids, args.timeout)
        return {"ok": True, "pairs": [list(p) for p in zip(old_ids, new_ids)],
                "not_submitted": waiting}

    response, holder = hand_over_or_act(
        config, {"op": "resubmit", "job_ids": old_ids, "again": args.again}, act,
        args.timeout)
    pairs = response["pairs"]
    if args.json:
        print_json({"pairs": pairs, "managed_by": holder})
    else:
        for old, new in pairs:
            print(f"{old} -> {new}")
    if holder is None:
        not_managed_note(config.log_path)
    return EXIT_OK
