"""`galcore retrain`: recurse, predict, embed and evaluate a new run, as one job."""

from __future__ import annotations

import argparse

from galcore.cli._common import add_workspace, command_parser
from store.selection import DEFAULT_TOP

__all__ = ["retrain_command", "retrain_command_parser"]


def retrain_command_parser(
    subparsers: argparse._SubParsersAction | None = None,
) -> argparse.ArgumentParser:
    """Return the parser of ``galcore retrain``."""
    parser = command_parser(
        subparsers,
        "retrain",
        "Retrain a new run from a parent as one job: 'galcore recurse', then 'predict', 'embed'"
        " and 'evaluate' the new run. One job runs at a time per workspace; it is recorded in"
        " WS/jobs/RUN.json with its log and progress (what the workbench's Retrain tab shows).",
    )
    add_workspace(parser)
    parser.add_argument("--run", required=True, help="the new run's name")
    parser.add_argument("--parent", required=True, help="the run to retrain from")
    parser.add_argument(
        "--top",
        type=int,
        default=DEFAULT_TOP,
        help=f"confident predictions added per class ({DEFAULT_TOP}; 0: only the reviews)",
    )
    parser.add_argument("--lock-fd", type=int, help=argparse.SUPPRESS)
    parser.set_defaults(func=retrain_command)
    return parser


def retrain_command(args: argparse.Namespace) -> int:
    """Run ``galcore retrain``.

    With ``--lock-fd`` (a server that started the job) the job is recorded already and the
    lock is held through that descriptor; otherwise the command records the job and takes the
    lock itself.
    """
    import os

    from galcore.jobs import JobLock, claim_job, new_job, run_job, workspace_guard
    from store import Workspace

    workspace = Workspace(args.workspace)
    if args.lock_fd is not None:
        lock = JobLock(workspace, args.lock_fd)
    else:
        job = new_job(workspace, args.parent, args.run, args.top)
        with workspace_guard(workspace):
            lock = claim_job(workspace, job)
            lock.describe(
                pid=os.getpid(), run=job.run, parent=job.parent, started=job.started, log=job.log
            )
        print(f"job {job.run}: log {job.log}, progress {job.progress}")
    code = run_job(workspace, args.run, lock)
    print(f"job {args.run}: {'done' if code == 0 else 'failed'}")
    return code
