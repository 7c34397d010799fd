"""``simjobs cancel``: cancel jobs that have not ended (answered from the log when
all have)."""

from __future__ import annotations

import argparse

from ..core.lock import holder_text
from ..core.manager import JobManager
from ..core.types import TERMINAL_STATUSES, JobStatus
from .errors import EXIT_FAILURE, EXIT_OK
from .filters import check_known, parse_job_ids
from .handover import JobWatch, hand_over_or_act
from .logs import command_config, read_log
from .output import print_json


def cmd_cancel(args: argparse.Namespace) -> int:
    config = command_config(args)
    ids = parse_job_ids(args.ids)
    with read_log(args, config) as (log, _):
        check_known(log, ids)
        ended = {j: log.get_record(j).status for j in ids}
    ended = {j: status.value for j, status in ended.items() if status in TERMINAL_STATUSES}

    def act(manager: JobManager) -> dict:
        with JobWatch(manager) as watch:
            result = manager.cancel_many(ids)
            cancelled = [str(j.id) for j in result.cancelled]
            watch.wait(cancelled, lambda s: s in TERMINAL_STATUSES or s is JobStatus.FAILED_CANCEL,
                       args.timeout)
            watch.check_login()
            final = {j: (watch.status(j) or JobStatus.PENDING_CANCEL).value for j in cancelled}
        return {"ok": True, "cancelled": cancelled, "final": final,
                "skipped": {str(k): v.value for k, v in result.skipped.items()}}

    if len(ended) == len(ids):
        # Nothing to cancel: answered from the log as read, without starting a manager
        # (which would take the lock and resume the log's other jobs just to say so).
        # An ended job never changes status again, so this answer cannot be stale.
        response, holder = {"ok": True, "cancelled": [], "skipped": ended}, None
    else:
        response, holder = hand_over_or_act(
            config, {"op": "cancel", "job_ids": ids}, act, args.timeout)
    cancelled, skipped = response["cancelled"], response["skipped"]
    final = response.get("final", {})
    if args.json:
        print_json({"cancelled": cancelled, "skipped": skipped, "final": final,
                     "managed_by": holder})
    else:
        for job_id in cancelled:
            status = final.get(job_id)
            if status is None:
                print(f"{job_id}: cancelling (handed to the manager, {holder_text(holder)})")
            elif status == JobStatus.CANCELLED.value:
                print(f"{job_id}: cancelled")
            elif status == JobStatus.PENDING_CANCEL.value:
                print(f"{job_id}: cancel requested, not confirmed within {args.timeout:g} s "
                      "(the next manager finishes it)")
            else:
                print(f"{job_id}: {status} (it ended before the cancel reached it)"
                      if status != JobStatus.FAILED_CANCEL.value else f"{job_id}: cancel failed")
        for job_id, status in skipped.items():
            print(f"{job_id}: skipped, already {status}")
    return EXIT_OK if cancelled else EXIT_FAILURE
