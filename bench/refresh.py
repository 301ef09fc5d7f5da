"""Benchmark: what one course's summary refresh costs after each kind of change, in process, on
a database bench/dashboard.py built (`--keep DIR`).

    .venv/bin/python bench/refresh.py DIR/tool.sqlite3
    .venv/bin/python bench/refresh.py postgresql+psycopg2://…/db

The app of this checkout, production configuration. Times the commit that writes the learner,
course and page summaries, as the tool makes it:

- from scratch (`flask data refresh-summaries`: every page's figures computed): the baseline;
- after a settings change (the settings page's save: only the learner summary's inputs moved);
- on a new day (the course's day moves the fingerprint; the scheduler's job or the first page
  of the day refreshes);
- after new activity (what an ingest's commit adds to its own time: everything is computed);
- after 1 % of the learners' rows are replaced (what the commit of an ingest of their new
  events adds: their rollups rebuilt from their events, the summaries written; the refresh's
  own share printed beside, as the ingest's report gives it);
- after a learner's first launch (a new person enrolled: the launch marks the course stale,
  the scheduler's job refreshes; the launch and the job timed together);
- after an event-API batch of 100 learners (their rollups rebuilt in a small write's commit,
  which leaves the summaries to the scheduler's job; the commit and the job timed together).

Each change is undone after (the settings put back, the day of now written again, the
newcomer's enrollment deleted), so the database is left as it was but for the newcomers'
people. Prints figures, never fails.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Callable
from datetime import timedelta

from in_process import REPO, bench_app, first_staff

LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("database", help="the SQLite file or a database URL")
    parser.add_argument("--runs", type=int, default=1, help="times each change is made")
    args = parser.parse_args()
    app = bench_app(args.database)

    from dashboard import machine
    from sqlalchemy import delete

    from lti_tool.activity.rollups import (
        rebuild_learners,
        summaries_changed,
        summaries_later,
        touch_courses,
    )
    from lti_tool.extensions import db
    from lti_tool.kpis import course_settings, learner_summary, page_summary
    from lti_tool.launch import records
    from lti_tool.models import Enrollment
    from lti_tool.models.types import utcnow
    from lti_tool.people.pseudonyms import pseudonym_key
    from lti_tool.people.roles import course_role

    for line in machine()[:-1]:
        print(line)
    print(f"code     {REPO}")
    print(f"database {app.config['SQLALCHEMY_DATABASE_URI'].split('@')[-1]}\n")

    with app.app_context():
        _person, course = first_staff()
        key = pseudonym_key()

        def from_scratch() -> None:
            page_summary.forget(db.session, course)
            learner_summary.refresh(db.session, course, key=key)
            db.session.commit()

        def settings_change() -> None:
            saved = course_settings.load(db.session, course)
            for days in (saved.risk_inactive_days + 1, saved.risk_inactive_days):
                chosen = dataclasses.replace(saved, risk_inactive_days=days)
                course_settings.save(db.session, course, chosen)
                summaries_changed(db.session, [course.id])
                db.session.commit()  # the commit refreshes (lti_tool._refresh_summaries)

        def new_day() -> None:
            tomorrow = utcnow() + timedelta(days=1)
            learner_summary.current(db.session, course, key=key, now=tomorrow)
            db.session.commit()

        def new_activity() -> None:
            touch_courses(db.session, [course.id])
            db.session.commit()

        own: list[float] = []

        def a_hundredth_replaced() -> None:
            people = sorted(learner_summary.member_ids(db.session, course))[::100]
            learner_summary.summaries_seconds(db.session)  # the changes' before, not this one's
            rebuild_learners(db.session, course.id, people)
            db.session.commit()
            own.append(learner_summary.summaries_seconds(db.session))

        def a_small_write() -> None:
            # An event-API batch's commit: a hundred learners' rollups rebuilt, the summaries
            # left for the scheduler's job, which then refreshes (the two timed together).
            people = sorted(learner_summary.member_ids(db.session, course))[1::1000]
            rebuild_learners(db.session, course.id, people)
            summaries_later(db.session)
            db.session.commit()
            learner_summary.refresh_stale(db.session, key)

        launched: list[int] = []

        def a_first_launch() -> None:
            # A learner's first launch enrolls them (marked stale with who, as the launch's
            # commit marks it); the scheduler's job writes the summaries.
            roles = [LEARNER]
            sub = f"bench-newcomer-{len(launched)}"
            claims = {"sub": sub, "name": f"Bench Newcomer {len(launched)}"}
            person = records.record_membership(
                course, course.platform_id, claims, roles, course_role(roles)
            )
            launched.append(person.id)
            db.session.commit()
            learner_summary.refresh_stale(db.session, key)

        def unenrolled() -> None:
            db.session.execute(
                delete(Enrollment).where(
                    Enrollment.course_id == course.id, Enrollment.person_id == launched[-1]
                )
            )
            db.session.commit()
            back_to_now()

        def back_to_now() -> None:
            learner_summary.current(db.session, course, key=key)
            db.session.commit()

        changes: list[tuple[str, Callable[[], None], int, Callable[[], None] | None]] = [
            ("from scratch (baseline)", from_scratch, 1, None),
            ("settings change (two saves)", settings_change, 2, None),
            ("new day", new_day, 1, back_to_now),
            ("new activity", new_activity, 1, None),
            ("1 % of the learners replaced", a_hundredth_replaced, 1, None),
            ("a learner's first launch", a_first_launch, 1, unenrolled),
            ("an event batch of 100 learners", a_small_write, 1, None),
        ]
        learners = learner_summary.current(db.session, course, key=key).learners
        db.session.commit()
        print(f"course {course.id}: {learners:,} learners\n")
        print(f"  {'change':30} {'refresh':>10}   (per refresh; {args.runs} runs, the median)")
        baseline = None
        for name, change, refreshes, undo in changes:
            times = []
            for _run in range(args.runs):
                started = time.perf_counter()
                change()
                times.append((time.perf_counter() - started) / refreshes)
                if undo is not None:
                    undo()
            median = sorted(times)[len(times) // 2]
            baseline = baseline or median
            print(f"  {name:30} {median:9.2f} s   {median / baseline:5.0%} of the baseline")
        if own:
            refresh = sorted(own)[len(own) // 2]
            print(f"  (of the 1 %, the summaries' refresh {refresh:.2f} s, the rest the rebuild)")


if __name__ == "__main__":
    main()
