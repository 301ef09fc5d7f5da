"""Benchmark: `flask sync run --source canvas` against a fake Canvas, full then incremental.

    .venv/bin/python bench/sync.py [--students 2000] [--assignments 60] [--modules 15]
                                   [--seed 1] [--keep DIR]

In one run: starts the fake Canvas of tests/helpers/fake_canvas.py in its own process (seeded: N
students in two sections, a teacher, A assignments with a submission or a missing mark per
student, M modules of four items, three with a completion requirement, about 9 active hours per
student and the course's daily activity); makes a fresh SQLite database (`flask db upgrade`),
a platform and a course whose Canvas id is the fake's, and stores the token with `flask
platform set-canvas`; then runs `flask sync run --course 101 --source canvas --json` three
times as child processes:

1. the first sync (a backfill: every learner who was ever active gets per-student calls),
2. an incremental sync with nothing changed at Canvas,
3. a periodic full refresh (CANVAS_FULL_SYNC_HOURS=0) with nothing changed.

For each: requests counted at the fake server per endpoint, wall time, rows written (the run's
own count), the child's peak RSS and CPU from its own wait4 rusage, and its proportional set
size sampled every 0.1 s; `flask sync history` gives the command's start-up alone (the app's
imports set the RSS peak of a small run). The baseline, measured in
the same run, replays every URL the first sync requested with a bare `requests` session (no
parsing, no database): the floor set by the fake server and HTTP itself. Prints the machine and
PASS/FAIL for issue 4's targets: the incremental sync with no changes makes at most the
enrollment list's pages + 10 requests (≤ 30 for 2,000 students); the full refresh makes no
per-student calls. A missed target is printed, not an exit code: this is a benchmark.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import REPO, ChildRun, check_child, machine, run_child

PER_STUDENT = ("user_activity", "student_modules")
BULK = ("users", "submissions", "bulk_progress", "summaries")


def serve(args: argparse.Namespace) -> None:
    """The fake Canvas, in this process, until stdin closes."""
    sys.path.insert(0, str(REPO))
    from tests.helpers.fake_canvas import FakeCanvas

    fake = FakeCanvas()
    fake.generate(
        students=args.students,
        assignments=args.assignments,
        modules=args.modules,
        seed=args.seed,
        hours_per_student=12,
    )
    fake.start()
    print(json.dumps({"origin": fake.origin, "token": fake.token}), flush=True)
    sys.stdin.read()
    fake.stop()


def fake_counts(origin: str, reset: bool = False) -> dict[str, Any]:
    """Requests the fake counted per endpoint, and the URLs in order."""
    url = origin + "/_fake/counts"
    response = requests.post(url, timeout=30) if reset else requests.get(url, timeout=30)
    return response.json()


def setup(env: dict[str, str], workdir: Path, origin: str, token: str) -> None:
    """Schema, a platform, its course 101, and the token stored by the real command."""
    check_child(run_child(flask("db", "upgrade"), env, workdir, "upgrade"), "flask db upgrade")
    os.environ.update(env)
    sys.path.insert(0, str(REPO))
    from lti_tool import create_app
    from lti_tool.extensions import db
    from lti_tool.models import Course, Platform

    app = create_app()
    with app.app_context():
        platform = Platform(name="Bench Canvas", issuer=origin, frame_origins=[])
        db.session.add(platform)
        db.session.flush()
        db.session.add(
            Course(
                platform_id=platform.id,
                lti_context_id="bench-context",
                lms_course_id="101",
                title="Synthetic Course",
            )
        )
        db.session.commit()
        db.engine.dispose()
    token_file = workdir / "token"
    token_file.write_text(token + "\n")
    token_file.chmod(0o600)
    args = ["platform", "set-canvas", "--platform", "Bench Canvas"]
    args += ["--base-url", origin, "--token-file", str(token_file)]
    stored = run_child(flask(*args), env, workdir, "set-canvas")
    check_child(stored, "flask platform set-canvas")
    assert token not in stored.stdout + stored.stderr


def flask(*args: str) -> list[str]:
    return [sys.executable, "-m", "flask", *args]


def sync(env: dict[str, str], workdir: Path, label: str) -> tuple[ChildRun, dict[str, Any]]:
    """One `flask sync run` child; its run as JSON."""
    child = run_child(
        flask("sync", "run", "--course", "101", "--source", "canvas", "--json"),
        env,
        workdir,
        label,
    )
    check_child(child, label)
    return child, json.loads(child.stdout)


def replay(urls: list[str], origin: str, token: str) -> float:
    """The baseline: GET the same URLs one at a time and read the bodies, nothing else."""
    session = requests.Session()
    session.headers["Authorization"] = "Bearer " + token
    start = time.perf_counter()
    for line in urls:
        _method, path = line.split(" ", 1)
        session.get(origin + path, timeout=60).content  # noqa: B018
    session.close()
    return time.perf_counter() - start


def per_student(counts: dict[str, int], modules_lists: int) -> int:
    """Calls made for one student: activity, and module lists beyond the course's own."""
    return counts.get("user_activity", 0) + max(0, counts.get("modules", 0) - modules_lists)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=2000)
    parser.add_argument("--assignments", type=int, default=60)
    parser.add_argument("--modules", type=int, default=15)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", help="keep the database and the children's output here")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args)
        return

    workdir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-sync-"))
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    server = subprocess.Popen(  # noqa: S603
        [sys.executable, __file__, "--serve", *sys.argv[1:]],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert server.stdout is not None
        hello = json.loads(server.stdout.readline())
        origin, token = hello["origin"], hello["token"]
        print(
            f"fake Canvas: {args.students:,} students, {args.assignments} assignments, "
            f"{args.modules} modules, seed {args.seed}, ready in "
            f"{time.perf_counter() - started:.1f} s (its own process)"
        )
        from cryptography.fernet import Fernet

        env = {
            **os.environ,
            "FLASK_APP": "lti_tool",
            "LTI_TOOL_CONFIG": "production",
            "DATABASE_URL": "sqlite:///" + str(workdir / "bench.sqlite3"),
            "SECRET_KEY": "bench-sync",
            "TOOL_BASE_URL": "https://tool.test",
            "DATA_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            "LTI_TOOL_INSTANCE_PATH": str(workdir / "instance"),
            "LOG_JSON": "0",
        }
        if (workdir / "bench.sqlite3").exists():
            (workdir / "bench.sqlite3").unlink()
        setup(env, workdir, origin, token)
        enrollment_pages = math.ceil((args.students + 1) / 100)

        rows = []
        fake_counts(origin, reset=True)
        first, first_run = sync(env, workdir, "sync-first")
        first_seen = fake_counts(origin)
        rows.append(("first sync (backfill)", first, first_run, first_seen["counts"]))
        fake_counts(origin, reset=True)
        incremental, inc_run = sync(env, workdir, "sync-incremental")
        rows.append(("incremental, no change", incremental, inc_run, fake_counts(origin)["counts"]))
        fake_counts(origin, reset=True)
        refresh, refresh_run = sync({**env, "CANVAS_FULL_SYNC_HOURS": "0"}, workdir, "sync-full")
        rows.append(
            ("full refresh, no change", refresh, refresh_run, fake_counts(origin)["counts"])
        )
        baseline = replay(first_seen["seen"], origin, token)
        startup = run_child(flask("sync", "history", "--limit", "1"), env, workdir, "startup")
        check_child(startup, "flask sync history")
    finally:
        if server.stdin:
            server.stdin.close()
        server.wait(timeout=60)

    print()
    print(
        f"{'run':<26}{'requests':>9}{'per-student':>12}{'wall':>9}{'rows written':>14}"
        f"{'peak RSS':>11}{'(PSS)':>10}{'CPU':>8}"
    )
    for label, child, run, counts in rows:
        total = sum(counts.values())
        assert total == run["requests"], (total, run["requests"])
        print(
            f"{label:<26}{total:>9,}{per_student(counts, 1):>12,}{child.wall:>8.2f}s"
            f"{run['counts'].get('rows_written', 0):>14,}{child.max_rss / 1e6:>9.1f}MB"
            f"{child.tree_pss / 1e6:>8.1f}MB{child.cpu:>7.2f}s"
        )
    print()
    for label, _child, _run, counts in rows:
        listed = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        print(f"{label}: {listed}")
    print(
        f"{'start-up alone':<26}{'':>9}{'':>12}{startup.wall:>8.2f}s{'':>14}"
        f"{startup.max_rss / 1e6:>9.1f}MB{startup.tree_pss / 1e6:>8.1f}MB{startup.cpu:>7.2f}s"
        "   (flask sync history)"
    )
    first_total = sum(rows[0][3].values())
    print()
    print(
        f"baseline: the first sync's {first_total:,} URLs fetched again with bare requests, "
        f"no parsing, no database: {baseline:.2f} s; first sync / baseline = "
        f"{rows[0][1].wall / baseline:.2f}"
    )
    counts = first_run["counts"]
    print(
        f"first sync wrote {counts.get('submissions', 0):,} submissions, "
        f"{counts.get('module_progress', 0):,} module states, "
        f"{counts.get('activity_hours', 0):,} activity hours, "
        f"{counts.get('learner_stats', 0):,} learner stats, "
        f"{counts.get('people_added', 0):,} people"
    )
    print()
    for line in machine():
        print(line)
    print()
    inc_total = sum(rows[1][3].values())
    budget = enrollment_pages + 10
    verdict = "PASS" if inc_total <= budget else "FAIL"
    print(
        f"{verdict} incremental with no changes: {inc_total} requests "
        f"(≤ {enrollment_pages} enrollment pages + 10 = {budget})"
    )
    if args.students == 2000:
        print(f"{'PASS' if inc_total <= 30 else 'FAIL'} ≤ 30 requests for 2,000 students")
    refresh_student = per_student(rows[2][3], 1)
    print(
        f"{'PASS' if refresh_student == 0 else 'FAIL'} full refresh uses bulk endpoints only: "
        f"{refresh_student} per-student calls, "
        + ", ".join(f"{k} {rows[2][3].get(k, 0)} pages" for k in BULK)
    )
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
