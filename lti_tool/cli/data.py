"""`flask data …`: privacy requests, rollups and retention."""

from __future__ import annotations

import json
import time
from typing import Any

import click
from flask.cli import AppGroup
from sqlalchemy import select

from lti_tool import audit, platforms
from lti_tool.activity.rollups import rebuild_learners
from lti_tool.cli.options import named_course
from lti_tool.data.privacy import delete_person, export_person
from lti_tool.data.retention import purge_course_all, purge_course_older_than
from lti_tool.extensions import db
from lti_tool.kpis import learner_activity, learner_summary, page_summary
from lti_tool.models import ActivityBlock, Course, Person
from lti_tool.people.linking import people_known_as
from lti_tool.people.pseudonyms import pseudonym_key

data_cli = AppGroup("data", help="Privacy requests: a learner's data, exported or deleted.")


def _person_option(person_id: int | None, identity: str | None, platform_name: str | None) -> int:
    """--person ID, or --identity KIND=VALUE (e.g. lti_sub=abc, openedx_username=jo)."""

    if person_id is not None:
        if db.session.get(Person, person_id) is None:
            raise click.ClickException(f"no person with id {person_id}")
        return person_id
    if not identity or "=" not in identity:
        raise click.UsageError("give --person ID or --identity KIND=VALUE")
    kind, value = identity.split("=", 1)
    platform_id = None
    if platform_name:
        platform = platforms.platform_named(db.session, platform_name)
        if platform is None:
            raise click.ClickException(f"no platform named {platform_name!r}")
        platform_id = platform.id
    found = people_known_as(db.session, kind, value, platform_id)
    if not found:
        raise click.ClickException(f"nobody is known as {kind}={value}")
    if len(found) > 1:
        raise click.ClickException(f"{kind}={value} names several people: add --platform NAME")
    return found.pop()


@data_cli.command("export-learner")
@click.option("--person", "person_id", type=int, help="The tool's person id.")
@click.option("--identity", help="KIND=VALUE, e.g. lti_sub=abc or openedx_username=jo.")
@click.option("--platform", "platform_name", help="The platform, when the identity is ambiguous.")
def data_export_learner(
    person_id: int | None, identity: str | None, platform_name: str | None
) -> None:
    """Print everything the tool holds about one person, as JSON (for an access request)."""

    target = _person_option(person_id, identity, platform_name)
    click.echo(json.dumps(export_person(db.session, target), indent=2, ensure_ascii=False))


@data_cli.command("delete-learner")
@click.option("--person", "person_id", type=int, help="The tool's person id.")
@click.option("--identity", help="KIND=VALUE, e.g. lti_sub=abc or openedx_username=jo.")
@click.option("--platform", "platform_name", help="The platform, when the identity is ambiguous.")
@click.option("--yes", is_flag=True, help="Do it (without --yes, only say what would go).")
def data_delete_learner(
    person_id: int | None, identity: str | None, platform_name: str | None, yes: bool
) -> None:
    """Delete one person and every row about them, in every course and source."""

    target = _person_option(person_id, identity, platform_name)
    if not yes:
        data = export_person(db.session, target)
        rows = {table: len(v) for table, v in data.items() if table != "person" and v}
        click.echo(
            f"would delete person {target} and {sum(rows.values())} rows: {rows}; "
            "add --yes to delete"
        )
        return
    counts = delete_person(db.session, target)
    audit.record(
        db.session,
        "learner_deleted",
        f"person {target}",
        details={table: n for table, n in counts.items() if n},
    )
    db.session.commit()
    deleted = {table: n for table, n in counts.items() if n}
    click.echo(f"deleted person {target}: {deleted}")


@data_cli.command("rebuild-rollups")
@click.option(
    "--course", "course_ref", required=True, help="The tool's course id or the LMS's course id."
)
@click.option("--platform", "platform_name", help="The platform, when the course id is ambiguous.")
def data_rebuild_rollups(course_ref: str, platform_name: str | None) -> None:
    """Recompute a course's rollups from its stored events (after an upgrade adds one)."""

    course = named_course(course_ref, platform_name)
    learners = list(
        db.session.scalars(
            select(ActivityBlock.person_id).where(ActivityBlock.course_id == course.id).distinct()
        )
    )
    rebuild_learners(db.session, course.id, learners)
    db.session.commit()
    click.echo(f"rebuilt the rollups of {len(learners)} learners of course {course.id}")


@data_cli.command("refresh-summaries")
@click.option("--course", "course_ref", help="The tool's course id or the LMS's course id.")
@click.option("--platform", "platform_name", help="The platform, when the course id is ambiguous.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per course.")
def data_refresh_summaries(
    course_ref: str | None, platform_name: str | None, as_json: bool
) -> None:
    """Write the learner, course and page summaries of a course (or of every course) again from
    its stored data, from scratch (after an upgrade adds a table; the tool otherwise writes
    them at every change)."""

    if course_ref:
        courses = [named_course(course_ref, platform_name)]
    else:
        courses = list(db.session.scalars(select(Course).order_by(Course.id)))
    key = pseudonym_key()
    for course in courses:
        started = time.perf_counter()
        # From scratch: no page's figures and no learner's activity totals are kept.
        page_summary.forget(db.session, course)
        learner_activity.forget(db.session, course)
        learners = learner_summary.refresh(db.session, course, key=key)
        db.session.commit()
        seconds = round(time.perf_counter() - started, 3)
        if as_json:
            click.echo(
                json.dumps({"course_id": course.id, "learners": learners, "seconds": seconds})
            )
        else:
            click.echo(f"course {course.id}: {learners} learners in {seconds} s")


@data_cli.command("purge")
@click.option("--course", "course_ref", help="The tool's course id or the LMS's course id.")
@click.option(
    "--older-than",
    "days",
    type=click.IntRange(min=0),
    help="Only activity from more than DAYS days ago (rollups of the rest are rebuilt).",
)
@click.option("--platform", "platform_name", help="The course's platform (or: only its courses).")
@click.option("--dry-run", is_flag=True, help="Count what would go; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def data_purge(
    course_ref: str | None,
    days: int | None,
    platform_name: str | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Purge course activity: all of one course's (--course), or older than DAYS (--older-than).

    --course alone removes the course's activity and LMS-synced learner data (roster, grades,
    progress) but keeps the course, its settings and calendar; people known only through it
    are forgotten. --older-than DAYS removes activity older than that, in one course or in
    every course, and rebuilds the rollups of the learners concerned.
    """

    if course_ref is None and days is None:
        raise click.UsageError("give --course COURSE, --older-than DAYS, or both")
    if course_ref:
        courses = [named_course(course_ref, platform_name)]
    else:
        query = select(Course).order_by(Course.id)
        if platform_name:
            platform = platforms.platform_named(db.session, platform_name)
            if platform is None:
                raise click.ClickException(f"no platform named {platform_name!r}")
            query = query.where(Course.platform_id == platform.id)
        courses = list(db.session.scalars(query))
    results: list[dict[str, Any]] = []
    for course in courses:
        label = course.lms_course_id or course.lti_context_id or ""
        course_id = course.id
        if days is None:
            counts = purge_course_all(db.session, course_id)
        else:
            counts = purge_course_older_than(db.session, course_id, days)
        if dry_run:
            db.session.rollback()
        else:
            what = "all activity" if days is None else f"activity older than {days} days"
            audit.record(
                db.session,
                "purge",
                f"course {course_id} ({label}): {what}",
                details={k: v for k, v in counts.items() if v},
                platform_id=course.platform_id,
                course_id=course_id,
            )
            db.session.commit()
        deleted = {k: v for k, v in counts.items() if v and k not in _NOT_ROWS}
        results.append(
            {
                "course_id": course_id,
                "course": label,
                "older_than_days": days,
                "deleted": deleted,
                "rows": sum(deleted.values()),
                **{k: counts[k] for k in _NOT_ROWS if k in counts},
            }
        )
    total = sum(r["rows"] for r in results)
    if as_json:
        summary = {"dry_run": dry_run, "courses": results, "rows": total}
        click.echo(json.dumps(summary, indent=2))
        return
    verb = "would delete" if dry_run else "deleted"
    for r in results:
        if r["rows"] or course_ref:
            detail = ", ".join(f"{k} {v}" for k, v in sorted(r["deleted"].items())) or "nothing"
            click.echo(
                f"course {r['course_id']} ({r['course']}): {verb} {r['rows']} rows: {detail}"
            )
    scope = "older than " + str(days) + " days" if days is not None else "all activity"
    plural = "" if len(results) == 1 else "s"
    click.echo(f"{verb} {total} rows ({scope}) in {len(results)} course{plural}")


#: Figures in a purge's counts that are not deleted rows.
_NOT_ROWS = ("people_forgotten", "learners_rebuilt")
