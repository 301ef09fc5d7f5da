"""Benchmark: one worker's time for the learners table, in process, on a database
bench/dashboard.py built (`--keep DIR`).

    .venv/bin/python bench/learners_page.py DIR/tool.sqlite3 [--runs 20]
    .venv/bin/python bench/learners_page.py postgresql+psycopg2://…/db [--runs 20]

The app of this checkout (the folder above bench/), production configuration, the Flask test
client: no HTTP, no other client, so the figures are the worker's own time per page (what 20
clients on 2 workers queue for). Per page: the median and the slowest of `--runs` requests
after a first one. Then "new data": the course's data is marked changed as an ingest marks it
(`touch_courses`, committed; where the code has a learner summary, the commit writes it, which is
timed too), and the first request of each page after it. Prints figures, never fails.
"""

from __future__ import annotations

import argparse
import statistics
import time

from in_process import REPO, bench_app, first_staff

PAGES = (
    ("learners, first page", ""),
    ("learners, at risk by time", "&risk=1&sort=time_7d"),
    ("learners, by name, page 3", "&sort=name&page=3"),
    ("learners, search", "&q=learner1"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("database", help="the SQLite file or a database URL")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    app = bench_app(args.database)

    from lti_tool.activity.rollups import touch_courses
    from lti_tool.extensions import db
    from lti_tool.launch.identity import Viewer, issue_token

    with app.app_context():
        person_id, course = first_staff()
        course_id = course.id
        token = issue_token(Viewer(person_id, course_id, "staff", course.platform_id or 0))
    client = app.test_client()
    headers = {"X-Forwarded-Proto": "https"}

    def timed(path: str) -> float:
        started = time.perf_counter()
        answer = client.get(path, headers=headers, base_url="https://tool.test")
        if answer.status_code != 200:
            raise SystemExit(f"{path}: HTTP {answer.status_code}")
        return time.perf_counter() - started

    print(f"code     {REPO}")
    print(f"database {app.config['SQLALCHEMY_DATABASE_URI'].split('@')[-1]}\n")
    print(f"  {'page':30} {'first':>8} {'median':>8} {'slowest':>8}   ({args.runs} runs)")
    for name, query in PAGES:
        path = f"/courses/{course_id}/learners?t={token}{query}"
        first = timed(path)
        runs = [timed(path) for _ in range(args.runs)]
        print(
            f"  {name:30} {first * 1000:7.1f}ms {statistics.median(runs) * 1000:7.1f}ms "
            f"{max(runs) * 1000:7.1f}ms"
        )
    print("\nnew data (touch_courses, committed), then the first request of each page")
    for name, query in PAGES[:2]:
        with app.app_context():
            started = time.perf_counter()
            touch_courses(db.session, [course_id])
            db.session.commit()
            written = time.perf_counter() - started
            db.session.remove()
        path = f"/courses/{course_id}/learners?t={token}{query}"
        first = timed(path)
        second = timed(path)
        print(
            f"  {name:30} commit {written * 1000:7.1f}ms, first request {first * 1000:7.1f}ms, "
            f"next {second * 1000:7.1f}ms"
        )


if __name__ == "__main__":
    main()
