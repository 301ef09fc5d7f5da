"""Benchmark: one worker's time for the overview and the student page, in process, on a
database bench/dashboard.py built (`--keep DIR`).

    .venv/bin/python bench/class_pages.py DIR/tool.sqlite3 [--runs 10] [--changes 4]

The app of this checkout (the folder above bench/), production configuration, the Flask test
client: the figures are the worker's own time per page. First the median of `--runs` warm
requests of each page; then, `--changes` times, the course's data is marked changed as an
ingest marks it (`touch_courses`, committed: where the code has summaries, the commit writes
them, which is timed too) and each page's first request after it, in turn first (the student
page alone, then after the overview, which in older code built the class it reuses). Prints
figures, never fails.
"""

from __future__ import annotations

import argparse
import statistics
import time

from in_process import bench_app, first_staff


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("database", help="the SQLite file or a database URL")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--changes", type=int, default=4)
    args = parser.parse_args()
    app = bench_app(args.database)
    from sqlalchemy import select

    from lti_tool.activity.rollups import touch_courses
    from lti_tool.extensions import db
    from lti_tool.launch.identity import Viewer, issue_token
    from lti_tool.models import Enrollment

    with app.app_context():
        person_id, course = first_staff()
        course_id = course.id
        learner = db.session.scalar(
            select(Enrollment.person_id)
            .where(Enrollment.course_id == course_id, Enrollment.course_role == "learner")
            .limit(1)
        )
        assert learner is not None
        platform = course.platform_id or 0
        pages = {
            "overview": f"/courses/{course_id}/?t="
            + issue_token(Viewer(person_id, course_id, "staff", platform)),
            "student page": f"/courses/{course_id}/me?t="
            + issue_token(Viewer(learner, course_id, "learner", platform)),
        }
    client = app.test_client()

    def timed(path: str) -> float:
        started = time.perf_counter()
        answer = client.get(
            path, headers={"X-Forwarded-Proto": "https"}, base_url="https://tool.test"
        )
        if answer.status_code != 200:
            raise SystemExit(f"{path}: HTTP {answer.status_code}")
        return (time.perf_counter() - started) * 1000

    for path in pages.values():
        timed(path)
    for name, path in pages.items():
        middle = statistics.median(timed(path) for _ in range(args.runs))
        print(f"{name:14} warm median {middle:.0f} ms")
    for change in range(args.changes):
        with app.app_context():
            started = time.perf_counter()
            touch_courses(db.session, [course_id])
            db.session.commit()
            commit = (time.perf_counter() - started) * 1000
        order = list(pages.items())
        if change % 2:
            order.reverse()
        firsts = ", ".join(f"{name} {timed(path):.0f} ms" for name, path in order)
        print(f"new data {change + 1}: commit {commit:.0f} ms; first requests: {firsts}")


if __name__ == "__main__":
    main()
