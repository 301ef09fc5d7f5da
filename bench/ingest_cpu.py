"""Where an ingest's CPU goes: this process, its parse and rollup workers, and PostgreSQL.

`bench/ingest.py` times the `flask ingest` child and its workers, not the database server,
which on PostgreSQL does part of the work in a process of its own. This ingests a log in this
process into a database whose schema is made (`flask db upgrade`), and prints the wall time, the
CPU seconds of this process, of its workers, and of the PostgreSQL backend serving its
connection (read from /proc: the server must run on this machine), with the rollups' share and
that of the learner summary written at the commit (per course, not per event).

    DATABASE_URL=URL FLASK_APP=wsgi .venv/bin/python -m flask db upgrade
    .venv/bin/python bench/ingest_cpu.py LOG --database-url URL

Run it from the checkout whose code it should measure (its folder comes first on the path).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def backend_cpu(pid: int | None) -> float:
    """CPU seconds (user + system) of a process on this machine; 0 without one."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    """Ingest the log once and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log")
    parser.add_argument("--database-url", required=True)
    args = parser.parse_args()

    from sqlalchemy import text

    from lti_tool import create_app
    from lti_tool.activity import rollups
    from lti_tool.extensions import db
    from lti_tool.tracking_logs.ingest import ingest_tracking_logs

    phases: dict[str, tuple[float, ...]] = {}
    rebuild = rollups.rebuild

    def timed_rebuild(*given: Any, **named: Any) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            rebuild(*given, **named)
        finally:
            phases["rollups"] = (time.perf_counter() - wall, time.process_time() - cpu)

    rollups.rebuild = timed_rebuild  # the sink calls it through the module

    from lti_tool.kpis import learner_summary

    refresh_changed = learner_summary.refresh_changed

    backend: dict[str, int | None] = {"pid": None}

    def timed_refresh(*given: Any, **named: Any) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        server = backend_cpu(backend["pid"])
        try:
            refresh_changed(*given, **named)
        finally:
            spent = (
                time.perf_counter() - wall,
                time.process_time() - cpu,
                backend_cpu(backend["pid"]) - server,
            )
            before = phases.get("summary", (0.0, 0.0, 0.0))
            phases["summary"] = tuple(a + b for a, b in zip(before, spent, strict=True))

    # The commit's listener imports it from the module at each commit: per course, not per
    # event, so it is printed on its own.
    learner_summary.refresh_changed = timed_refresh
    app = create_app({"SQLALCHEMY_DATABASE_URI": args.database_url})
    with app.app_context():
        dialect = db.engine.dialect.name
        postgresql = dialect == "postgresql"
        # The ingest's session keeps this connection until it commits, at the end of the file.
        pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar() if postgresql else None
        backend["pid"] = pid
        before = backend_cpu(pid)
        own = resource.getrusage(resource.RUSAGE_SELF)
        workers = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        report = ingest_tracking_logs(db.session, [args.log], None)
        wall = time.perf_counter() - start
        own_after = resource.getrusage(resource.RUSAGE_SELF)
        workers_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        server = backend_cpu(pid) - before
    main_cpu = own_after.ru_utime + own_after.ru_stime - own.ru_utime - own.ru_stime
    worker_cpu = (
        workers_after.ru_utime + workers_after.ru_stime - workers.ru_utime - workers.ru_stime
    )
    rollup_wall, rollup_cpu = phases.get("rollups", (0.0, 0.0))
    summary_wall, summary_cpu, summary_server = phases.get("summary", (0.0, 0.0, 0.0))
    print(
        f"{dialect}: {report.events:,} events in {wall:.2f} s; CPU s: "
        f"main {main_cpu:.2f}, workers {worker_cpu:.2f}, database server {server:.2f}, "
        f"total {main_cpu + worker_cpu + server:.2f}; rollups {rollup_wall:.2f} s "
        f"(main CPU {rollup_cpu:.2f}); learner summary at commit {summary_wall:.2f} s "
        f"(main CPU {summary_cpu:.2f}, server {summary_server:.2f}); load {os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
