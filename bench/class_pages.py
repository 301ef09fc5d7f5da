"""Benchmark: one worker's time for every page issue 20 sets targets for, in process, on a
database bench/dashboard.py built (`--keep DIR`).

    .venv/bin/python bench/class_pages.py DIR/tool.sqlite3 [--runs 10] [--changes 2] [--only NAME]

The app of this checkout (the folder above bench/), production configuration, the Flask test
client: the figures are the worker's own time per page, which the machine's load moves far less
than the HTTP figures under 20 clients. The pages are bench/pages.py's (the overview, the
learners table first page, sorted by each column and at risk only, one learner, the student page,
staff's "Student view" of the typical learner, videos, grades, content, enrollment, problems,
countries). First the median of `--runs` warm requests of each page, with the CPU time of this
process per request (the worker's: the SQLite reads included) and the SQL statements a request
sends; then, `--changes` times per page, the course's data is marked changed as an ingest marks
it (`touch_courses`, committed: where the code has summaries, the commit writes them, which is
timed too) and that page's first request after it is timed (each page alone after its own
change, so none profits from what another page built). `--only` keeps the pages whose name
contains NAME. Prints figures, never fails.
"""

from __future__ import annotations

import argparse
import statistics
import time

from in_process import bench_app, first_staff
from pages import page_paths

TARGET_FIRST_MS = 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("database", help="the SQLite file or a database URL")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--changes", type=int, default=2)
    parser.add_argument("--only", default="", help="only the pages whose name contains this")
    args = parser.parse_args()
    app = bench_app(args.database)
    from sqlalchemy import event, func, select

    from lti_tool.activity.rollups import touch_courses
    from lti_tool.extensions import db
    from lti_tool.launch.identity import Viewer, issue_token
    from lti_tool.models import Enrollment, LearnerDay

    with app.app_context():
        person_id, course = first_staff()
        course_id = course.id
        # The most active learner: their own page and their staff page.
        learner = db.session.scalar(
            select(LearnerDay.person_id)
            .join(
                Enrollment,
                (Enrollment.person_id == LearnerDay.person_id)
                & (Enrollment.course_id == LearnerDay.course_id),
            )
            .where(LearnerDay.course_id == course_id, Enrollment.course_role == "learner")
            .group_by(LearnerDay.person_id)
            .order_by(func.sum(LearnerDay.events).desc())
            .limit(1)
        )
        assert learner is not None
        platform = course.platform_id or 0
        token = issue_token(Viewer(person_id, course_id, "staff", platform))
        student = f"/courses/{course_id}/me?t=" + issue_token(
            Viewer(learner, course_id, "learner", platform)
        )
        pages = [
            (name, path)
            for name, path in page_paths(f"/courses/{course_id}", token, student, learner)
            if args.only in name
        ]
    client = app.test_client()

    def timed(path: str) -> float:
        started = time.perf_counter()
        answer = client.get(
            path, headers={"X-Forwarded-Proto": "https"}, base_url="https://tool.test"
        )
        if answer.status_code != 200:
            raise SystemExit(f"{path}: HTTP {answer.status_code}")
        return (time.perf_counter() - started) * 1000

    # The statements a request sends to the database, counted on the engine.
    sent = [0]
    with app.app_context():
        event.listen(
            db.engine, "before_cursor_execute", lambda *_args: sent.__setitem__(0, sent[0] + 1)
        )
    warm, cpu, statements = {}, {}, {}
    for name, path in pages:
        timed(path)
        began, sent[0] = time.process_time(), 0
        warm[name] = statistics.median(timed(path) for _ in range(args.runs))
        cpu[name] = (time.process_time() - began) / args.runs * 1000
        statements[name] = sent[0] / args.runs
    firsts: dict[str, list[float]] = {name: [] for name, _path in pages}
    commits: list[float] = []
    for _change in range(args.changes):
        for name, path in pages:
            with app.app_context():
                started = time.perf_counter()
                touch_courses(db.session, [course_id])
                db.session.commit()
                commits.append((time.perf_counter() - started) * 1000)
            firsts[name].append(timed(path))
    print(f"{'page':26} {'warm median':>11} {'CPU':>8} {'SQL':>4}  first after new data")
    for name, _path in pages:
        after = firsts[name]
        shown = ", ".join(f"{ms:.0f}" for ms in after)
        mark = "" if max(after, default=0) < TARGET_FIRST_MS else "  (over 1 s)"
        print(
            f"{name:26} {warm[name]:8.0f} ms {cpu[name]:5.1f} ms {statements[name]:4.0f}"
            f"  {shown} ms{mark}"
        )
    if commits:
        print(
            f"the commit that marks the data changed: {min(commits):.0f} to {max(commits):.0f} ms "
            f"(median {statistics.median(commits):.0f} ms, {len(commits)} commits)"
        )


if __name__ == "__main__":
    main()
