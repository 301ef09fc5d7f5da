"""Benchmark: `flask ingest tracking-logs` on a synthetic Open edX log, against DuckDB.

    .venv/bin/python bench/ingest.py --events 1000000 [--learners L[,L…]] [--seed 1]
                                     [--keep DIR] [--profile FILE] [--skip-store-baseline]
                                     [--database-url URL [--reset-database]]

In one run, per log shape (`--learners`: one log per learner count, default N/200): writes a
seeded synthetic tracking log (bench/synthetic_log.py: 50 % video, 30 % navigation, 20 %
problems, exactly 1 % malformed lines); ingests it with the real command in a child process
into a fresh SQLite database, measuring wall time, events/s and the child's peak RSS and CPU
(its own rusage, from wait4) and reading the malformed count the command reports; runs issue
21's baseline on the same file, DuckDB writing per course, learner and day the events and the
seconds of gaps under 30 minutes to a table in a DuckDB file, and prints both rates and their
ratio; checks that DuckDB's per-learner daily counts of active events equal the tool's (table
learner_day). For the first shape it also times `flask report time-spent` for the largest
course and runs a second baseline, DuckDB building the tool's learner-day lists (unless
`--skip-store-baseline`). Then a summary per shape (the rate per event of each shape against
the first: issue 21's "flat per learner") and PASS/FAIL per target. `--database-url` ingests
into an empty PostgreSQL database instead. A missed target is printed, not an exit code: this
is a benchmark, not a test.

"events" in events/s are the log's lines (the malformed 1 % included) for both the tool and
DuckDB, so the ratio is the ratio of wall times.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
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
# Issue 21's: a share of its DuckDB baseline's rate, and the rate flat (within 20 %) per learner.
TARGET_RATIO_21 = 0.2
TARGET_FLAT = 0.2

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

# Issue 21's baseline: DuckDB doing the core of the same job, written to a table in a DuckDB
# database file. Per course, learner (context.user_id) and UTC day, the events and the seconds
# of the gaps under 30 minutes between a learner's consecutive events in a course (LAG over
# time), as the tool's time spent adds them up; every well-formed line with a user counts.
LEARNER_DAY_QUERY = """\
CREATE TABLE learner_day AS
WITH events AS (
  SELECT context.course_id AS course, context.user_id AS user_id,
         CAST("time" AS TIMESTAMPTZ) AS t
  FROM read_json('{path}',
         format = 'newline_delimited',
         ignore_errors = true,
         columns = {{username: 'VARCHAR', "time": 'VARCHAR',
                    context: 'STRUCT(course_id VARCHAR, user_id BIGINT)'}})
  WHERE "time" IS NOT NULL
    AND coalesce(context.course_id, '') <> ''
    AND context.user_id IS NOT NULL
), gaps AS (
  SELECT course, user_id, t,
         epoch(t) - epoch(lag(t) OVER (PARTITION BY course, user_id ORDER BY t)) AS gap
  FROM events
)
SELECT course, user_id, CAST(timezone('UTC', t) AS DATE) AS day, count(*) AS events,
       sum(CASE WHEN gap < 1800 THEN gap ELSE 0 END) AS seconds
FROM gaps
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


def duckdb_learner_days(log: Path, workdir: Path) -> tuple[float, int, str, str]:
    """Issue 21's baseline: its wall time (connect, CREATE TABLE AS, close: on disk), the
    learner-days it wrote, DuckDB's thread count and the query."""
    path = workdir / "baseline.duckdb"
    path.unlink(missing_ok=True)
    sql = LEARNER_DAY_QUERY.format(path=str(log).replace("'", "''"))
    start = time.perf_counter()
    conn = duckdb.connect(str(path))
    conn.execute(sql)
    conn.close()
    wall = time.perf_counter() - start
    conn = duckdb.connect(str(path), read_only=True)
    threads = conn.sql("SELECT current_setting('threads')").fetchall()[0][0]
    rows = conn.sql("SELECT count(*) FROM learner_day").fetchall()[0][0]
    conn.close()
    path.unlink()
    return wall, rows, str(threads), sql


def _write_log(path: Path, lines: int, learners: int, seed: int) -> synthetic_log.LogStats:
    synthetic_log.LEARNERS_PER_EVENT = learners / lines
    return synthetic_log.write_log(path, lines, seed)


def write_log(path: Path, lines: int, learners: int, seed: int) -> synthetic_log.LogStats:
    """Write the synthetic log in a process of its own.

    Writing a log of many learners takes this process to gigabytes, and Linux hands a process's
    peak RSS on to the children it starts (exec keeps it in ru_maxrss): the ingest child's
    figure would be this process's, not its own.
    """
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(_write_log, path, lines, learners, seed).result()


def reset_database(url: str) -> None:
    """Empty a PostgreSQL database (its public schema), for a run's next log shape."""
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()


@dataclass
class ShapeRun:
    """One log shape's run: the log, the tool's ingest and the DuckDB baseline on it."""

    learners: int
    lines: int
    ingest: ChildRun
    baseline_wall: float
    counts_match: bool
    malformed_ok: bool

    @property
    def rate(self) -> float:
        """The tool's events/s (the log's lines, malformed ones included)."""
        return self.lines / self.ingest.wall

    @property
    def baseline_rate(self) -> float:
        """Issue 21's DuckDB baseline's events/s on the same file."""
        return self.lines / self.baseline_wall

    @property
    def ratio(self) -> float:
        """The tool's rate as a share of the baseline's."""
        return self.rate / self.baseline_rate


def run_shape(
    args: argparse.Namespace, learners: int, workdir: Path, first: bool, load: list[str]
) -> ShapeRun:
    """Write one log shape, ingest it with the tool, run the baselines, check the counts."""
    n = args.events
    log = workdir / "tracking.log"
    db_url = args.database_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
    engine_name = "PostgreSQL" if args.database_url else "SQLite"

    print(f"\n== synthetic log: {n:,} lines, {learners:,} learners, seed {args.seed}")
    start = time.perf_counter()
    stats = write_log(log, n, learners, args.seed)
    written = time.perf_counter() - start
    # The log is in the page cache but not yet on disk: flush it now, or the kernel writes it
    # back while the ingest runs and throttles the database's writes behind it.
    os.sync()
    synced = time.perf_counter() - start - written
    print(f"written in {written:.1f} s to {log} (then synced to disk in {synced:.1f} s)")
    print(f"size     {stats.bytes / 1e6:,.1f} MB, {stats.bytes / stats.lines:,.0f} bytes a line")
    mix = ", ".join(f"{k} {v / stats.good:.1%}" for k, v in stats.mix.most_common())
    print(f"mix      {mix}")
    print(
        f"learners {stats.learners:,} ({stats.lines / stats.learners:,.0f} lines each); "
        f"days {stats.first_time[:10]} .. {stats.last_time[:10]}"
    )
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
    if args.database_url and args.reset_database:
        reset_database(db_url)
    check_child(run_child(flask("db", "upgrade"), env, workdir, "upgrade"), "flask db upgrade")
    if not is_empty(db_url):
        sys.exit(f"{args.database_url} already holds courses: give an empty database")

    print(f"\n== the tool: flask ingest tracking-logs --json (child process, {engine_name})")
    load.append(loadavg())
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
    print(f"load     {load[-1]} (load average before the ingest)")
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

    print("\n== baseline (issue 21): DuckDB, per course, learner and day, events and gaps < 30 min")
    base_wall, base_rows, threads, sql = duckdb_learner_days(log, workdir)
    base_rate = n / base_wall
    if first:
        print(sql)
    print(f"threads  {threads}")
    print(f"wall     {base_wall:.2f} s  ->  {base_rate:,.0f} events/s; {base_rows:,} learner-days")
    print(f"ours     {tool_rate:,.0f} events/s")
    print(
        f"ratio    tool/DuckDB: {tool_rate / base_rate:.3f} of DuckDB's rate "
        f"(DuckDB {ingest.wall / base_wall:.1f}x faster)"
    )

    print("\n== baseline (issue 3): DuckDB read_json, per-learner daily counts of active events")
    duck, duck_wall, threads, query_text = duckdb_counts(log)
    if first:
        print(query_text)
    print(f"wall     {duck_wall:.2f} s  ->  {n / duck_wall:,.0f} events/s")

    largest = stats.courses.most_common(1)[0][0]
    rows: list[dict[str, Any]] = []
    if first:
        print(f"\n== flask report time-spent --course {largest}")
        startup = run_child(
            flask("report", "time-spent", "--course", "no-such-course"), env, workdir, "startup"
        )
        report = run_child(
            flask("report", "time-spent", "--course", largest), env, workdir, "report"
        )
        check_child(report, "flask report time-spent")
        rows = json.loads(report.stdout)
        print(
            f"wall     {report.wall:.2f} s for {len(rows):,} rows "
            f"({stats.courses[largest]:,} events in the course); the command's startup alone "
            f"(an unknown course) {startup.wall:.2f} s, so about {report.wall - startup.wall:.2f}"
            " s for the report itself"
        )
        args.report_wall = report.wall

    if first and not args.skip_store_baseline:
        print("\n== second baseline: DuckDB doing the core of the tool's work (not a target)")
        print(store_query(log))
        blocks, stored, store_wall = duckdb_store(log)
        print(
            f"wall     {store_wall:.2f} s  ->  {n / store_wall:,.0f} events/s; {blocks:,} "
            f"learner-days holding {stored:,} events (the tool stored "
            f"{summary['events_ingested']:,})"
        )
        kept, kept_wall, kept_size = duckdb_store_in_file(log, workdir)
        print(
            f"kept   the same query as CREATE TABLE blocks AS … in a DuckDB file, not fetched: "
            f"{kept_wall:.2f} s for {kept:,} learner-days ({kept_size / 1e6:,.1f} MB)"
        )

    print("\n== check: per-learner daily event counts")
    ours = tool_counts(db_url)
    counts_match = compare("learner_day vs DuckDB", ours, duck)
    if first:
        by_name = {
            (synthetic_log.username(int(user)), day): events
            for (course, user, day), events in duck.items()
            if course == largest
        }
        from_report = {(row["learner"], row["day"]): row["events"] for row in rows}
        report_match = from_report == by_name
        print(
            f"report time-spent `events` vs DuckDB ({largest}): "
            f"{'MATCH' if report_match else 'DIFFERENT'} ({len(rows):,} rows)"
        )
        counts_match = counts_match and report_match
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
    if not args.keep:
        log.unlink()
    return ShapeRun(
        stats.learners, n, ingest, base_wall, counts_match, malformed_ok and ingested_ok
    )


def loadavg() -> str:
    """The 1, 5 and 15-minute load averages."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000, help="lines in each log (N)")
    parser.add_argument(
        "--learners",
        default="",
        metavar="L[,L…]",
        help="learners in the log (default N/200); several, comma-separated, write and ingest "
        "one log per count in the same run (the per-learner shapes of issue 21, item 3)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", metavar="DIR", help="write the log and database here, keep them")
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="an empty PostgreSQL database to ingest into, instead of a fresh SQLite file "
        "(the targets are SQLite's; the figures are printed all the same)",
    )
    parser.add_argument(
        "--reset-database",
        action="store_true",
        help="with --database-url: drop and recreate its public schema before each log shape",
    )
    parser.add_argument(
        "--skip-store-baseline",
        action="store_true",
        help="leave out the second baseline (DuckDB building the tool's learner-day lists)",
    )
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="run the ingest child under cProfile, stats to FILE (slower)",
    )
    args = parser.parse_args()
    n = args.events
    shapes = [int(x) for x in args.learners.split(",") if x.strip()] or [
        max(10, round(n * synthetic_log.LEARNERS_PER_EVENT))
    ]
    if args.database_url and len(shapes) > 1 and not args.reset_database:
        sys.exit("several log shapes on PostgreSQL need --reset-database")

    if args.keep:
        workdir = Path(args.keep).resolve()
        workdir.mkdir(parents=True, exist_ok=True)
    else:
        workdir = Path(tempfile.mkdtemp(prefix="bench-ingest-"))

    print("== machine")
    for line in machine():
        print(line)

    runs: list[ShapeRun] = []
    load: list[str] = []
    args.report_wall = float("nan")
    for index, learners in enumerate(shapes):
        where = workdir / f"learners-{learners}" if len(shapes) > 1 else workdir
        where.mkdir(parents=True, exist_ok=True)
        for stale in ("bench.sqlite3", "bench.sqlite3-wal", "bench.sqlite3-shm"):
            (where / stale).unlink(missing_ok=True)
        runs.append(run_shape(args, learners, where, index == 0, load))

    engine_name = "PostgreSQL" if args.database_url else "SQLite"
    print(f"\n== summary ({engine_name}, {n:,} lines a log)")
    print(
        "learners  lines/learner  tool wall (CPU)     tool ev/s   DuckDB wall  DuckDB ev/s  "
        "ratio  per-event rate vs first  load before"
    )
    for run, before in zip(runs, load, strict=True):
        print(
            f"{run.learners:>8,}  {run.lines / run.learners:>13,.0f}  "
            f"{run.ingest.wall:>7.2f} s ({run.ingest.cpu:>6.2f} s)  {run.rate:>9,.0f}  "
            f"{run.baseline_wall:>9.2f} s  {run.baseline_rate:>11,.0f}  {run.ratio:>5.3f}  "
            f"{run.rate / runs[0].rate:>23.2f}  {before}"
        )

    first = runs[0]
    scale = "" if n >= TARGET_EVENTS else f"  (the targets are for {TARGET_EVENTS:,} events)"
    if args.database_url:
        scale += "  (measured on PostgreSQL: the rate targets are SQLite's)"
    print(f"\n== targets{scale}")
    print(
        f"{verdict(first.rate >= TARGET_EVENTS_PER_S)}  issue 3: end-to-end rate "
        f"{first.rate:,.0f} events/s >= {TARGET_EVENTS_PER_S:,}"
    )
    for run in runs:
        print(
            f"{verdict(run.ratio >= TARGET_RATIO_21)}  issue 21: {run.learners:,} learners, "
            f"{run.ratio:.3f} of DuckDB's learner_day rate >= {TARGET_RATIO_21}"
        )
    if len(runs) > 1:
        rates = [run.rate for run in runs]
        spread = min(rates) / max(rates)
        print(
            f"{verdict(spread >= 1 - TARGET_FLAT)}  issue 21: flat per learner, slowest shape "
            f"at {spread:.2f} of the fastest's rate >= {1 - TARGET_FLAT:.2f}"
        )
    for run in runs:
        memory = max(run.ingest.max_rss, run.ingest.tree_pss)
        print(
            f"{verdict(memory < TARGET_RSS_BYTES)}  peak memory {memory / 1e6:,.1f} MB "
            f"< {TARGET_RSS_BYTES / 1e6:.0f} MB ({run.learners:,} learners; the larger of the "
            "child's peak RSS and its process tree's summed PSS)"
        )
    print(
        f"{verdict(args.report_wall < TARGET_REPORT_S)}  report time-spent "
        f"{args.report_wall:.2f} s < {TARGET_REPORT_S:.0f} s (whole command)"
    )
    print(
        f"{verdict(all(r.counts_match for r in runs))}  DuckDB's per-learner daily counts equal "
        "the tool's"
    )
    print(
        f"{verdict(all(r.malformed_ok for r in runs))}  malformed lines reported = written; "
        "well-formed lines all ingested"
    )

    if args.keep:
        print(f"\nkept {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
