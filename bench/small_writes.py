"""Benchmark: what a small write costs, in process, on a database bench/dashboard.py built
(`--keep DIR`): an event-API POST of a small batch, a launch's commit, and the learners
page's first request after each (issue 20, step 2).

    .venv/bin/python bench/small_writes.py DIR/tool.sqlite3 [--rounds 5] [--batch 10]
    .venv/bin/python bench/small_writes.py postgresql+psycopg2://…/db [--rounds 5]

The app of this checkout (the folder above bench/), production configuration, the Flask test
client: no HTTP, no other client, so the figures are one worker's own time. The database is
written to (lab events, a launch's enrollment): run it on a copy. It upgrades the schema
first. Where the checkout has the refresh job (lti_tool.kpis.learner_summary.refresh_stale),
each round also times the job after a batch. Prints figures, never fails.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime

from in_process import REPO, bench_app, first_staff

LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"


def _ms(values: list[float]) -> str:
    """Median and range of timings, in ms."""
    if not values:
        return "-"
    return (
        f"median {statistics.median(values) * 1000:7.1f} ms "
        f"({min(values) * 1000:.1f}-{max(values) * 1000:.1f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("database", help="the SQLite file or a database URL")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=10, help="lab messages per POST")
    args = parser.parse_args()
    app = bench_app(args.database)
    from sqlalchemy import select

    from lti_tool.extensions import db
    from lti_tool.kpis import learner_summary
    from lti_tool.launch import records
    from lti_tool.launch.identity import Viewer, issue_token
    from lti_tool.models import Course, Enrollment, LearnerSummaryState, PersonIdentity
    from lti_tool.people.pseudonyms import pseudonym_key
    from lti_tool.people.roles import course_role

    runner = app.test_cli_runner()
    upgraded = runner.invoke(args=["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    with app.app_context():
        person_id, course = first_staff()
        course_id = course.id
        platform_id = course.platform_id or 0
        course_key = course.lms_course_id or course.lti_context_id
        token = issue_token(Viewer(person_id, course_id, "staff", platform_id))
        # The learner the dashboard bench launched as (an LTI identity on the course's platform).
        student = db.session.execute(
            select(PersonIdentity.value)
            .join(Enrollment, Enrollment.person_id == PersonIdentity.person_id)
            .where(
                Enrollment.course_id == course_id,
                Enrollment.course_role == "learner",
                PersonIdentity.kind == "lti_sub",
            )
        ).first()
        sub = student[0] if student else "bench-student"
    made = runner.invoke(
        args=[
            "tokens",
            "create",
            "--name",
            f"bench-{time.time_ns()}",
            "--scope",
            "events:write",
            "--course",
            course_key,
        ]
    )
    assert made.exit_code == 0, made.output
    api_token = made.stdout.strip().splitlines()[-1]
    client = app.test_client()
    headers = {"X-Forwarded-Proto": "https"}
    page = f"/courses/{course_id}/learners?t={token}&risk=1&sort=time_7d"

    def get_page() -> float:
        started = time.perf_counter()
        answer = client.get(page, headers=headers, base_url="https://tool.test")
        if answer.status_code != 200:
            raise SystemExit(f"learners page: HTTP {answer.status_code}")
        return time.perf_counter() - started

    def post_batch(round_: int) -> float:
        now_ms = int(datetime.now(UTC).timestamp() * 1000)
        batch = [
            {"user": f"bench-lab-{n % 5}", "t": now_ms - 1000 * n, "type": "log", "exp": "bench"}
            for n in range(args.batch)
        ]
        started = time.perf_counter()
        answer = client.post(
            "/api/v1/events",
            json=batch,
            headers={**headers, "Authorization": f"Bearer {api_token}"},
            base_url="https://tool.test",
        )
        took = time.perf_counter() - started
        if answer.status_code != 200:
            raise SystemExit(f"POST /api/v1/events: HTTP {answer.status_code} {answer.json}")
        return took

    def launch() -> tuple[float, bool]:
        """A relaunch of the learner, nothing changed: its writes and its commit."""
        with app.app_context():
            roles = [LEARNER]
            started = time.perf_counter()
            found = db.session.get(Course, course_id)
            assert found is not None
            if hasattr(records, "record_membership"):
                records.record_membership(
                    found, platform_id, {"sub": sub}, roles, course_role(roles)
                )
            else:
                person = records.upsert_person(platform_id, {"sub": sub})
                records.upsert_enrollment(found, person, roles, course_role(roles))
            db.session.commit()
            took = time.perf_counter() - started
            mark, _s, _t = learner_summary.fingerprint(
                db.session, found, pseudonym_key(), datetime.now(UTC)
            )
            stored = db.session.scalar(
                select(LearnerSummaryState.fingerprint).where(
                    LearnerSummaryState.course_id == course_id
                )
            )
            db.session.remove()
        return took, mark != stored

    has_job = hasattr(learner_summary, "refresh_stale")
    print(f"code     {REPO}")
    where = app.config["SQLALCHEMY_DATABASE_URI"].split("@")[-1]
    print(f"database {where}, course {course_id}, batch of {args.batch}\n")
    get_page()  # the summary current before the first round
    launch()  # the learner's enrollment as a launch leaves it
    get_page()
    posts, pages, jobs, posts_job, pages_job, launches, after_launch = [], [], [], [], [], [], []
    moved = 0
    for round_ in range(args.rounds):
        posts.append(post_batch(round_))
        pages.append(get_page())
        if has_job:
            posts_job.append(post_batch(round_))
            with app.app_context():
                started = time.perf_counter()
                learner_summary.refresh_stale(db.session, pseudonym_key())
                jobs.append(time.perf_counter() - started)
                db.session.remove()
            pages_job.append(get_page())
        took, stale = launch()
        launches.append(took)
        moved += stale
        after_launch.append(get_page())
    print(f"  event-API POST of {args.batch} messages:      {_ms(posts + posts_job)}")
    print(f"  learners page, first after the batch:  {_ms(pages)}")
    if has_job:
        print(f"  refresh job after a batch:             {_ms(jobs)}")
        print(f"  learners page after the job:           {_ms(pages_job)}")
    print(f"  launch (nothing changed), to commit:    {_ms(launches)}")
    print(f"    summary behind after it: {moved} of {args.rounds}")
    print(f"  learners page, first after the launch: {_ms(after_launch)}")


if __name__ == "__main__":
    main()
