"""Benchmark: `flask ingest tracking-logs` on a synthetic Open edX log, against DuckDB's scan.

    .venv/bin/python bench/ingest.py --events 1000000 [--seed 1] [--keep DIR] [--profile FILE]
                                     [--database-url URL]

In one run: writes a seeded synthetic tracking log (bench/synthetic_log.py: 50 % video, 30 %
navigation, 20 % problems, N/200 learners, exactly 1 % malformed lines); ingests it with the
real command in a child process into a fresh SQLite database, measuring wall time, events/s and
the child's peak RSS (its own rusage, from wait4), and reading the malformed count the command
reports; times `flask report time-spent` for the largest course; runs the baseline, DuckDB's
`read_json` of the same file computing per-learner daily event counts; checks that DuckDB's
counts equal the tool's (table learner_day, and the report's `events` column); runs a second
baseline, DuckDB doing the core of the tool's work (every event's fields, video payloads
decoded, ordered per learner-day, fetched into Python), to show what the first ratio compares;
prints the machine and PASS/FAIL per target of issue 3. `--database-url` ingests into an empty
PostgreSQL database instead (figures printed, targets are SQLite's). A missed target is
printed, not an exit code: this is a benchmark, not a test.

"events" in events/s are the log's lines (the malformed 1 % included) for both the tool and
DuckDB, so the ratio is the ratio of wall times.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import sqlalchemy

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository: lti_tool
sys.path.insert(0, str(Path(__file__).resolve().parent))
import synthetic_log

from lti_tool.activity.video import VIDEO_EVENT_NAMES

REPO = Path(__file__).resolve().parent.parent

# Issue 3's targets, for 1,000,000 events on the 2-core machine.
TARGET_EVENTS_PER_S = 100_000
TARGET_SHARE_OF_DUCKDB = 1 / 3
TARGET_RSS_BYTES = 500 * 1000 * 1000
TARGET_REPORT_S = 1.0
TARGET_EVENTS = 1_000_000

DUCKDB_QUERY = """\
SELECT context.course_id AS course,
       context.user_id AS user_id,
       CAST(timezone('UTC', CAST("time" AS TIMESTAMPTZ)) AS DATE) AS day,
       count(*) AS events
FROM read_json('{path}',
       format = 'newline_delimited',
       ignore_errors = true,
       columns = {{event_type: 'VARCHAR', event_source: 'VARCHAR', "time": 'VARCHAR',
                  context: 'STRUCT(course_id VARCHAR, user_id BIGINT)'}})
WHERE "time" IS NOT NULL
  AND coalesce(context.course_id, '') <> ''
  AND context.user_id IS NOT NULL
  -- the tool's "active" events: not task events, not enrollment changes
  AND event_source <> 'task'
  AND event_type NOT LIKE 'edx.course.enrollment.%'
GROUP BY ALL"""

# The second baseline: DuckDB doing the core of the tool's work, not just counting. Every
# well-formed event with a user, its time, name, source and video fields (from the payload,
# a JSON string in browser events), ordered in time per course, learner and UTC day, fetched
# into Python: what the tool's learner-day blocks hold, without the event keys, the
# per-line error report, the learners, the rollups and the database writes.
DUCKDB_STORE_QUERY = """\
WITH events AS (
  SELECT context.course_id AS course, context.user_id AS user_id, event_type, event_source,
         epoch(CAST("time" AS TIMESTAMPTZ)) AS t,
         CASE WHEN event_type IN ({video_names})
              THEN json_extract_string(event, ['$.id', '$.currentTime', '$.old_time',
                                               '$.new_time', '$.duration']) END AS video
  FROM read_json('{path}',
         format = 'newline_delimited',
         ignore_errors = true,
         columns = {{event_type: 'VARCHAR', event_source: 'VARCHAR', "time": 'VARCHAR',
                    event: 'VARCHAR', context: 'STRUCT(course_id VARCHAR, user_id BIGINT)'}})
  WHERE "time" IS NOT NULL
    AND coalesce(context.course_id, '') <> ''
    AND context.user_id IS NOT NULL
)
SELECT course, user_id, CAST(t // 86400 AS INTEGER) AS day,
       list(t ORDER BY t), list(event_type ORDER BY t), list(event_source ORDER BY t),
       list(video ORDER BY t)
FROM events
GROUP BY ALL"""

TOOL_QUERY = """\
SELECT c.lms_course_id, i.value, d.day, d.events
FROM learner_day d
JOIN course c ON c.id = d.course_id
JOIN person_identity i ON i.person_id = d.person_id AND i.kind = 'openedx_user_id'"""

DayCounts = dict[tuple[str, str, str], int]  # (course key, user id, ISO day) -> events


@dataclass
class ChildRun:
    """A finished child process: exit code, wall time, its own peak RSS and CPU time."""

    code: int
    wall: float
    max_rss: int  # bytes
    tree_pss: int  # bytes: the child and its own children together, at their sampled peak
    cpu: float
    stdout: str
    stderr: str


def run_child(args: list[str], env: dict[str, str], workdir: Path, label: str) -> ChildRun:
    """Run a command and wait4 for it, so the rusage is this child's alone."""
    out_path, err_path = workdir / f"{label}.out", workdir / f"{label}.err"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(args, env=env, cwd=REPO, stdout=out, stderr=err)  # noqa: S603
        memory = TreeMemory(proc.pid)
        memory.start()
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        memory.stop()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return ChildRun(
        code=proc.returncode,
        wall=wall,
        max_rss=usage.ru_maxrss * 1024,  # kilobytes on Linux
        tree_pss=memory.peak,
        cpu=usage.ru_utime + usage.ru_stime,
        stdout=out_path.read_text(encoding="utf-8", errors="replace"),
        stderr=err_path.read_text(encoding="utf-8", errors="replace"),
    )


class TreeMemory(threading.Thread):
    """Samples the memory of a process and its children together, every 0.1 s.

    A child's ru_maxrss is the peak of the largest single process; an ingest that forks
    workers uses more than that. The sum of their proportional set sizes (PSS: shared pages
    divided among the processes that share them) is what they take together.
    """

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(self.interval):
            total = sum(_pss(pid) for pid in (self.pid, *_children(self.pid)))
            self.peak = max(self.peak, total)

    def stop(self) -> None:
        self._done.set()
        self.join()


def _children(parent: int) -> list[int]:
    """The processes whose parent is `parent`."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat", encoding="ascii", errors="replace") as f:
                    stat = f.read()
            except OSError:
                continue
            # The command name in parentheses may hold spaces: fields count after the last ")".
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                found.append(int(entry.name))
    return found


def _pss(pid: int) -> int:
    """A process's proportional set size in bytes (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def flask(*args: str, profile: str | None = None) -> list[str]:
    """The tool's `flask` command line, optionally under cProfile."""
    if profile:
        return [sys.executable, "-m", "cProfile", "-o", profile, "-m", "flask", *args]
    return [sys.executable, "-m", "flask", *args]


def check_child(run: ChildRun, what: str) -> None:
    if run.code != 0:
        print(f"{what} failed with exit code {run.code}:\n{run.stdout[-2000:]}{run.stderr[-4000:]}")
        raise SystemExit(2)


def machine() -> list[str]:
    cpu = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo", encoding="utf-8") as info:
        mem_kb = int(next(line for line in info if line.startswith("MemTotal")).split()[1])
    usable = len(os.sched_getaffinity(0))
    try:
        commit = subprocess.run(
            ["git", "describe", "--always", "--dirty"],  # noqa: S607
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        commit = "?"
    return [
        f"CPU      {cpu}, {os.cpu_count()} cores ({usable} usable)",
        f"RAM      {mem_kb / 1024 / 1024:.1f} GiB",
        f"OS       {platform.platform()}",
        f"Python   {platform.python_version()}   SQLite {sqlite3.sqlite_version}   "
        f"DuckDB {duckdb.__version__}   orjson {_version('orjson')}   "
        f"SQLAlchemy {_version('sqlalchemy')}",
        f"code     {commit}",
    ]


def _version(module: str) -> str:
    try:
        return __import__(module).__version__
    except (ImportError, AttributeError):
        return "?"


def query(url: str, sql: str) -> list[Any]:
    """The rows of one query on the tool's database (SQLite or PostgreSQL)."""
    engine = sqlalchemy.create_engine(url)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(sql).all()
    engine.dispose()
    return list(rows)


def tool_counts(url: str) -> DayCounts:
    """Per course, learner (Open edX user id) and day: the events the tool counted."""
    rows = query(url, TOOL_QUERY)
    return {(course, str(user), str(day)): events for course, user, day, events in rows}


def database_size(url: str) -> int:
    """Bytes the database takes: the SQLite file, or PostgreSQL's pg_database_size."""
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///")).stat().st_size
    return int(query(url, "SELECT pg_database_size(current_database())")[0][0])


def is_empty(url: str) -> bool:
    """True when the (migrated) database holds no course yet."""
    return query(url, "SELECT count(*) FROM course")[0][0] == 0


def duckdb_counts(log: Path) -> tuple[DayCounts, float, str, str]:
    """DuckDB's per-learner daily counts, its wall time, thread count and the query."""
    query = DUCKDB_QUERY.format(path=str(log).replace("'", "''"))
    conn = duckdb.connect()
    threads = conn.sql("SELECT current_setting('threads')").fetchall()[0][0]
    start = time.perf_counter()
    rows = conn.sql(query).fetchall()
    wall = time.perf_counter() - start
    conn.close()
    counts = {(course, str(user), day.isoformat()): events for course, user, day, events in rows}
    return counts, wall, str(threads), query


def store_query(log: Path) -> str:
    """The second baseline's query for a log file."""
    names = ", ".join(f"'{name}'" for name in VIDEO_EVENT_NAMES)
    return DUCKDB_STORE_QUERY.format(path=str(log).replace("'", "''"), video_names=names)


def duckdb_store(log: Path) -> tuple[int, int, float]:
    """DuckDB's learner-day event lists: their number, the events in them, and the wall time."""
    conn = duckdb.connect()
    start = time.perf_counter()
    rows = conn.sql(store_query(log)).fetchall()
    wall = time.perf_counter() - start
    conn.close()
    return len(rows), sum(len(row[3]) for row in rows), wall


def duckdb_store_in_file(log: Path, workdir: Path) -> tuple[int, float, int]:
    """The same lists kept in a DuckDB database file (CREATE TABLE AS, closed: on disk), never
    handed to Python: their number, the wall time and the file's size."""
    path = workdir / "store.duckdb"
    path.unlink(missing_ok=True)
    start = time.perf_counter()
    conn = duckdb.connect(str(path))
    conn.sql("CREATE TABLE blocks AS " + store_query(log))
    count = conn.sql("SELECT count(*) FROM blocks").fetchall()[0][0]
    conn.close()
    wall = time.perf_counter() - start
    size = path.stat().st_size
    path.unlink()
    return count, wall, size


def compare(name: str, ours: DayCounts, theirs: DayCounts, limit: int = 10) -> bool:
    """Print MATCH or the first differences."""
    if ours == theirs:
        print(f"{name}: MATCH ({len(ours):,} learner-days, {sum(ours.values()):,} events)")
        return True
    keys = sorted(set(ours) | set(theirs))
    diffs = [(k, ours.get(k), theirs.get(k)) for k in keys if ours.get(k) != theirs.get(k)]
    print(
        f"{name}: DIFFERENT in {len(diffs):,} of {len(keys):,} learner-days "
        f"(tool {sum(ours.values()):,} events, DuckDB {sum(theirs.values()):,}); first ones:"
    )
    for (course, user, day), tool, duck in diffs[:limit]:
        print(f"  {course}  user {user}  {day}: tool {tool}, DuckDB {duck}")
    return False


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000, help="lines in the log (N)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", metavar="DIR", help="write the log and database here, keep them")
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="an empty PostgreSQL database to ingest into, instead of a fresh SQLite file "
        "(the targets are SQLite's; the figures are printed all the same)",
    )
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="run the ingest child under cProfile, stats to FILE (slower)",
    )
    args = parser.parse_args()
    n = args.events

    if args.keep:
        workdir = Path(args.keep).resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        for stale in ("bench.sqlite3", "bench.sqlite3-wal", "bench.sqlite3-shm"):
            (workdir / stale).unlink(missing_ok=True)
    else:
        workdir = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    log = workdir / "tracking.log"
    db_url = args.database_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
    engine_name = "PostgreSQL" if args.database_url else "SQLite"

    print("== machine")
    for line in machine():
        print(line)

    print(f"\n== synthetic log: {n:,} lines, seed {args.seed}")
    start = time.perf_counter()
    stats = synthetic_log.write_log(log, n, args.seed)
    written = time.perf_counter() - start
    # The log is in the page cache but not yet on disk: flush it now, or the kernel writes it
    # back while the ingest runs and throttles the database's writes behind it.
    os.sync()
    synced = time.perf_counter() - start - written
    print(f"written in {written:.1f} s to {log} (then synced to disk in {synced:.1f} s)")
    print(f"size     {stats.bytes / 1e6:,.1f} MB, {stats.bytes / stats.lines:,.0f} bytes a line")
    mix = ", ".join(f"{k} {v / stats.good:.1%}" for k, v in stats.mix.most_common())
    print(f"mix      {mix}")
    print(f"learners {stats.learners:,}; days {stats.first_time[:10]} .. {stats.last_time[:10]}")
    for course, count in stats.courses.most_common():
        print(f"course   {course}: {count:,} events")
    bad = sum(stats.malformed.values())
    print(
        f"malformed {bad:,} ({bad / n:.2%}): "
        + ", ".join(f"{k} {v}" for k, v in sorted(stats.malformed.items()))
    )

    env = {
        **os.environ,
        "FLASK_APP": "lti_tool",
        "LTI_TOOL_INSTANCE_PATH": str(workdir / "instance"),
        "DATABASE_URL": db_url,
    }
    check_child(run_child(flask("db", "upgrade"), env, workdir, "upgrade"), "flask db upgrade")
    if not is_empty(db_url):
        sys.exit(f"{args.database_url} already holds courses: give an empty database")

    print(f"\n== the tool: flask ingest tracking-logs --json (child process, {engine_name})")
    ingest = run_child(
        flask("ingest", "tracking-logs", str(log), "--json", profile=args.profile),
        env,
        workdir,
        "ingest",
    )
    check_child(ingest, "flask ingest tracking-logs")
    summary = json.loads(ingest.stdout)
    skipped = summary["skipped"]
    malformed = sum(v for reason, v in skipped.items() if reason != "no_user")
    tool_rate = n / ingest.wall
    print(f"wall     {ingest.wall:.2f} s (CPU {ingest.cpu:.2f} s)  ->  {tool_rate:,.0f} events/s")
    print(
        f"peak RSS {ingest.max_rss / 1e6:,.1f} MB (the child's own ru_maxrss); with its worker "
        f"processes {ingest.tree_pss / 1e6:,.1f} MB at most (their PSS summed, sampled)"
    )
    print(
        f"reported lines {summary['lines']:,}, events ingested {summary['events_ingested']:,}, "
        f"learners {summary['learners']:,}, courses {summary['courses']}"
    )
    print(f"reported malformed {malformed:,}: {skipped}")
    print(f"database {database_size(db_url) / 1e6:,.1f} MB")
    if args.profile:
        print(f"profile  {args.profile} (timings above include cProfile's overhead)")

    largest = stats.courses.most_common(1)[0][0]
    print(f"\n== flask report time-spent --course {largest}")
    startup = run_child(
        flask("report", "time-spent", "--course", "no-such-course"), env, workdir, "startup"
    )
    report = run_child(flask("report", "time-spent", "--course", largest), env, workdir, "report")
    check_child(report, "flask report time-spent")
    rows = json.loads(report.stdout)
    print(
        f"wall     {report.wall:.2f} s for {len(rows):,} rows "
        f"({stats.courses[largest]:,} events in the course); the command's startup alone "
        f"(an unknown course) {startup.wall:.2f} s, so about {report.wall - startup.wall:.2f} s "
        "for the report itself"
    )

    print("\n== baseline: DuckDB read_json, per-learner daily counts")
    duck, duck_wall, threads, query = duckdb_counts(log)
    duck_rate = n / duck_wall
    print(query)
    print(f"threads  {threads}")
    print(f"wall     {duck_wall:.2f} s  ->  {duck_rate:,.0f} events/s")
    print(
        f"ratio    tool/DuckDB: {tool_rate / duck_rate:.3f} of DuckDB's rate "
        f"(DuckDB {ingest.wall / duck_wall:.1f}x faster)"
    )

    print("\n== second baseline: DuckDB doing the core of the tool's work (not a target)")
    print(store_query(log))
    blocks, stored, store_wall = duckdb_store(log)
    print(
        f"wall     {store_wall:.2f} s  ->  {n / store_wall:,.0f} events/s; {blocks:,} learner-days "
        f"holding {stored:,} events (the tool stored {summary['events_ingested']:,})"
    )
    print(
        f"ratio    tool/this: {store_wall / ingest.wall:.3f}; this/DuckDB's count scan: "
        f"{duck_wall / store_wall:.3f} (the share the target asks of the tool is 0.333)"
    )
    kept, kept_wall, kept_size = duckdb_store_in_file(log, workdir)
    print(
        f"kept   the same query as CREATE TABLE blocks AS … in a DuckDB file, not fetched: "
        f"{kept_wall:.2f} s for {kept:,} learner-days ({kept_size / 1e6:,.1f} MB); "
        f"this/DuckDB's count scan: {duck_wall / kept_wall:.3f}"
    )

    print("\n== check: per-learner daily event counts")
    ours = tool_counts(db_url)
    counts_match = compare("learner_day vs DuckDB", ours, duck)
    by_name = {
        (synthetic_log.username(int(user)), day): events
        for (course, user, day), events in duck.items()
        if course == largest
    }
    from_report = {(row["learner"], row["day"]): row["events"] for row in rows}
    report_match = from_report == by_name
    if report_match:
        print(f"report time-spent `events` vs DuckDB ({largest}): MATCH ({len(rows):,} rows)")
    else:
        differing = [
            k
            for k in sorted(set(by_name) | set(from_report))
            if by_name.get(k) != from_report.get(k)
        ]
        print(
            f"report time-spent `events` vs DuckDB ({largest}): DIFFERENT in {len(differing):,} "
            f"rows; first: "
            + "; ".join(
                f"{k}: report {from_report.get(k)}, DuckDB {by_name.get(k)}" for k in differing[:5]
            )
        )
    expected_bad = sum(stats.malformed.values())
    malformed_ok = malformed == expected_bad
    ingested_ok = summary["events_ingested"] == stats.good
    print(
        f"malformed reported {malformed:,}, written {expected_bad:,}: "
        f"{'MATCH' if malformed_ok else 'DIFFERENT'}"
    )
    print(
        f"events ingested {summary['events_ingested']:,}, well-formed lines {stats.good:,}: "
        f"{'MATCH' if ingested_ok else 'DIFFERENT'}"
    )

    scale = "" if n >= TARGET_EVENTS else f"  (the targets are for {TARGET_EVENTS:,} events)"
    if args.database_url:
        scale += "  (measured on PostgreSQL: the targets are SQLite's)"
    print(f"\n== targets (issue 3){scale}")
    print(
        f"{verdict(tool_rate >= TARGET_EVENTS_PER_S)}  end-to-end rate {tool_rate:,.0f} events/s "
        f">= {TARGET_EVENTS_PER_S:,}"
    )
    print(
        f"{verdict(tool_rate >= TARGET_SHARE_OF_DUCKDB * duck_rate)}  share of DuckDB's rate "
        f"{tool_rate / duck_rate:.3f} >= 1/3"
    )
    memory = max(ingest.max_rss, ingest.tree_pss)
    print(
        f"{verdict(memory < TARGET_RSS_BYTES)}  peak memory {memory / 1e6:,.1f} MB "
        f"< {TARGET_RSS_BYTES / 1e6:.0f} MB (the larger of the child's peak RSS and its process "
        "tree's summed PSS)"
    )
    print(
        f"{verdict(report.wall < TARGET_REPORT_S)}  report time-spent {report.wall:.2f} s "
        f"< {TARGET_REPORT_S:.0f} s (whole command)"
    )
    print(
        f"{verdict(counts_match and report_match)}  DuckDB's per-learner daily counts equal the "
        "tool's"
    )
    print(
        f"{verdict(malformed_ok and ingested_ok)}  malformed lines reported = written; "
        "well-formed lines all ingested"
    )

    if args.keep:
        print(f"\nkept {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
