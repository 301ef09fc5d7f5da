"""`flask scheduler run`: the scheduler process."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

scheduler_cli = AppGroup(
    "scheduler", help="The scheduler process: run exactly one beside the web servers."
)


@scheduler_cli.command("run")
def scheduler_run() -> None:
    """Run the scheduler in the foreground until SIGTERM (syncs, queued runs).

    Settings (environment): SYNC_INTERVAL_MINUTES (60), SCHEDULER_QUEUE_SECONDS (15),
    SCHEDULER_LOCK_RETRY_SECONDS (10), SCHEDULER_ADVISORY_LOCK (1; 0 behind a
    transaction-pooling proxy), SCHEDULER_SHUTDOWN_SECONDS (20), SYNC_RUN_TIMEOUT_MINUTES (120).
    """
    from lti_tool.jobs.scheduler import SchedulerProcess, Settings, configure_logging

    # current_app is a LocalProxy, typed as the Flask app it stands for (no proxy methods).
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    configure_logging(app)
    try:
        settings = Settings.from_app(app)
    except ValueError as exc:
        raise click.ClickException(f"scheduler settings: {exc}") from exc
    raise SystemExit(SchedulerProcess(app, settings).run())
