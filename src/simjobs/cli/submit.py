"""``simjobs submit``: new jobs from inputs, handed to the manager or submitted here."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ..core.command import hint
from ..core.lock import holder_text
from ..core.manager import JobManager
from ..core.text import plural
from .errors import EXIT_FAILURE, EXIT_OK
from .handover import JobWatch, hand_over_or_act, not_managed_note, wait_submitted
from .inputs import check_level, collect_inputs
from .logs import command_config, log_input_dim
from .output import note, print_json


def cmd_submit(args: argparse.Namespace) -> int:
    config = command_config(args)
    inputs = collect_inputs(args, log_input_dim(config))
    check_level(config, args.level)

    def act(manager: JobManager) -> dict:
        with JobWatch(manager) as watch:
            jobs = manager.submit_many(inputs, args.level)
            ids = [str(j.id) for j in jobs]
            waiting = wait_submitted(watch, ids, args.timeout)
        return {"ok": True, "job_ids": ids, "interfaces": [j.interface_name for j in jobs],
                "not_submitted": waiting, "reasons": _pending_reasons(manager, waiting)}

    request = {"op": "submit", "inputs": inputs, "level": args.level}
    response, holder = hand_over_or_act(config, request, act, args.timeout)
    ids = response["job_ids"]
    if args.json:
        print_json({"job_ids": ids, "level": args.level, "interfaces": response.get("interfaces"),
                     "managed_by": holder})
    else:
        for job_id in ids:
            print(job_id)
    waiting = response.get("not_submitted") if holder is None else None
    how = (f"handed to the manager, {holder_text(holder)}" if holder
           else "recorded by this process" if waiting else "submitted by this process")
    note(f"{plural(len(ids), 'job')} at level {args.level} ({how})")
    if waiting:
        # The interface's own reason, and a non-zero exit: the jobs are not running.
        reasons = response.get("reasons") or {}
        for reason, job_ids in (reasons.items() or [("no answer from the interface yet",
                                                     waiting)]):
            count = len(job_ids)
            note(f"error: {plural(count, 'job')} not on the hardware after "
                  f"{args.timeout:g} s: {reason}")
        note(f"they stay recorded, pending submit: '{hint('run')}' submits them once the "
              f"hardware answers (or cancel them with '{hint('cancel')}')")
        return EXIT_FAILURE
    if holder is None:
        not_managed_note(config.log_path)
    return EXIT_OK



def _pending_reasons(manager: JobManager, job_ids: Sequence[str]) -> dict[str, list[str]]:
    """Why jobs are still pending submit, from the interface's word: the reason the
    manager recorded for each (else its interface's health message); reason -> ids."""
    out: dict[str, list[str]] = {}
    health = manager.interface_health()
    for job_id in job_ids:
        try:
            record = manager.simulations_log.get_record(job_id)
        except Exception:  # noqa: BLE001 - a reason is a courtesy here
            continue
        reason = record.reason or (health.get(record.interface_name).message
                                   if health.get(record.interface_name) else "")
        reason = reason or f"interface {record.interface_name!r} has not answered yet"
        out.setdefault(reason, []).append(job_id)
    return out
