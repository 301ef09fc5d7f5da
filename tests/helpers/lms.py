"""LMSs registered in the tool, each with its fake server over HTTP: `Canvas` (a fake platform
for launches plus the fake Canvas REST API, set as the platform's data source) and `Lms` (a fake
platform plus its NRPS roster service). Each launches, syncs in this process and takes a
snapshot of what the sync wrote.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from lti_tool.extensions import db
from lti_tool.jobs import runs
from lti_tool.models import (
    Assignment,
    Course,
    CourseEvent,
    CourseModule,
    CourseSettings,
    Enrollment,
    LmsCourseActivityDay,
    LmsLearnerActivityHour,
    LmsLearnerStats,
    ModuleProgress,
    Person,
    PersonIdentity,
    Platform,
    Section,
    SectionMember,
    Submission,
    SyncRun,
)
from tests.helpers.fake_canvas import FakeCanvas
from tests.helpers.fake_nrps import ROSTER, FakeNrps
from tests.helpers.platform import FakePlatform

CUSTOM = "https://purl.imsglobal.org/spec/lti/claim/custom"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
NOW = datetime.now(UTC).replace(microsecond=0)
PER_PAGE = 5


def build(fake: FakeCanvas) -> FakeCanvas:
    """A small course: 12 students over 3 pages, and one of each other kind of enrollment."""
    fake.generate(students=12, assignments=4, modules=2, seed=3)
    fake.add_user(50, "Olive Observer", "olive@example.edu", kind="ObserverEnrollment")
    fake.add_user(51, "Test Student", kind="StudentViewEnrollment")
    fake.add_user(
        52, "Ina Inactive", "ina@example.edu", state="inactive", last_activity=NOW - timedelta(30)
    )
    fake.add_user(53, "Dee Deleted", "dee@example.edu", state="deleted")
    fake.add_user(54, "Tara Assistant", "tara@example.edu", kind="TaEnrollment")
    fake.add_user(55, "Dan Designer", "dan@example.edu", kind="DesignerEnrollment")
    return fake


class Canvas:
    """A Canvas instance: LTI platform (launches) plus its REST API, registered in the tool."""

    def __init__(
        self,
        app: Flask,
        client: FlaskClient,
        tmp_path: Path,
        name: str = "State U Canvas",
        client_id: str = "client-1",
    ) -> None:
        self.app, self.client = app, client
        self.fake = build(FakeCanvas(now=NOW, max_per_page=PER_PAGE)).start()
        self.platform = FakePlatform(issuer=self.fake.origin, client_id=client_id, name=name)
        self.platform.register(app)
        self.launch("teacher-sub", "1", name="Terry Teacher", email="terry@example.edu")
        token_file = tmp_path / f"token-{client_id}"
        token_file.write_text(self.fake.token + "\n")
        result = app.test_cli_runner().invoke(
            args=[
                "platform",
                "set-canvas",
                "--platform",
                name,
                "--base-url",
                self.fake.origin,
                "--token-file",
                str(token_file),
            ]
        )
        assert result.exit_code == 0, result.output

    def launch(self, sub: str, canvas_user: str | None, **claims: Any) -> TestResponse:
        """A launch from the course with Canvas's custom fields (the tool's redirect)."""
        custom = {"canvas_course_id": str(self.fake.course_id)}
        if canvas_user:
            custom["canvas_user_id"] = canvas_user
        roles = claims.pop("roles", None)
        response = self.platform.launch(
            self.client, roles=roles, sub=sub, **{CUSTOM: custom}, **claims
        )
        assert response.status_code in (302, 303), response.get_data(as_text=True)[:1000]
        return response

    def course(self) -> Course:
        platform = db.session.scalar(select(Platform).where(Platform.name == self.platform.name))
        assert platform is not None
        course = db.session.scalar(select(Course).where(Course.platform_id == platform.id))
        assert course is not None
        return course

    def sync(self) -> SyncRun:
        """One run now, in this process."""
        with self.app.app_context():
            run = runs.run_now(db.session, self.course(), "canvas")
            db.session.expunge(run)
            return run

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Everything the sync writes, by Canvas ids (no tool ids), comparable across platforms."""
        with self.app.app_context():
            course = self.course()
            cid, pid = course.id, course.platform_id
            uid = {
                person_id: value
                for person_id, value in db.session.execute(
                    select(PersonIdentity.person_id, PersonIdentity.value).where(
                        PersonIdentity.platform_id == pid, PersonIdentity.kind == "canvas_user_id"
                    )
                )
            }

            def rows(query: Any) -> list[tuple[Any, ...]]:
                out = []
                for row in db.session.execute(query):
                    out.append(
                        tuple(
                            uid.get(v, v) if k == "person_id" else v
                            for k, v in row._mapping.items()
                        )
                    )
                return sorted(out, key=repr)

            aid = {
                a.id: a.lms_assignment_id
                for a in db.session.scalars(select(Assignment).where(Assignment.course_id == cid))
            }
            mid = {
                m.id: m.lms_module_id
                for m in db.session.scalars(
                    select(CourseModule).where(CourseModule.course_id == cid)
                )
            }
            sid = {
                s.id: s.lms_section_id
                for s in db.session.scalars(select(Section).where(Section.course_id == cid))
            }
            people = [
                (uid[p.id], p.name, p.email)
                for p in db.session.scalars(select(Person).where(Person.id.in_(list(uid))))
            ]
            enrollments = [
                (
                    uid.get(e.person_id),
                    e.course_role,
                    e.status,
                    e.is_test_user,
                    tuple(sorted(e.roles)),
                    e.source,
                )
                for e in db.session.scalars(select(Enrollment).where(Enrollment.course_id == cid))
            ]
            submissions = [
                (
                    aid[s.assignment_id],
                    uid[s.person_id],
                    s.score,
                    s.submitted_at,
                    s.graded_at,
                    s.late,
                    s.missing,
                    s.excused,
                    s.workflow_state,
                    s.due_at,
                )
                for s in db.session.scalars(
                    select(Submission).where(Submission.assignment_id.in_(list(aid) or [-1]))
                )
            ]
            progress = [
                (
                    mid[m.module_id],
                    uid[m.person_id],
                    m.items_required,
                    m.items_done,
                    m.state,
                    m.completed_at,
                )
                for m in db.session.scalars(
                    select(ModuleProgress).where(ModuleProgress.module_id.in_(list(mid) or [-1]))
                )
            ]
            members = [
                (sid[m.section_id], uid[m.person_id])
                for m in db.session.scalars(
                    select(SectionMember).where(SectionMember.section_id.in_(list(sid) or [-1]))
                )
            ]
            stats_columns = [
                c
                for c in LmsLearnerStats.__table__.columns
                if c.name not in ("course_id", "synced_at")
            ]
            settings = db.session.get(CourseSettings, cid)
            return {
                "people": sorted(people),
                "enrollments": sorted(enrollments, key=repr),
                "sections": rows(
                    select(Section.lms_section_id, Section.name).where(Section.course_id == cid)
                ),
                "members": sorted(members),
                "assignments": rows(
                    select(
                        Assignment.lms_assignment_id,
                        Assignment.name,
                        Assignment.due_at,
                        Assignment.points_possible,
                        Assignment.published,
                        Assignment.removed,
                    ).where(Assignment.course_id == cid)
                ),
                "events": rows(
                    select(
                        CourseEvent.lms_id,
                        CourseEvent.kind,
                        CourseEvent.title,
                        CourseEvent.at,
                        Section.lms_section_id,
                        CourseEvent.section_name,
                    )
                    .outerjoin(Section, Section.id == CourseEvent.section_id)
                    .where(CourseEvent.course_id == cid)
                ),
                "submissions": sorted(submissions, key=repr),
                "modules": rows(
                    select(
                        CourseModule.lms_module_id,
                        CourseModule.name,
                        CourseModule.position,
                        CourseModule.items_required,
                        CourseModule.removed,
                    ).where(CourseModule.course_id == cid)
                ),
                "progress": sorted(progress, key=repr),
                "stats": rows(select(*stats_columns).where(LmsLearnerStats.course_id == cid)),
                "days": rows(
                    select(
                        LmsCourseActivityDay.day,
                        LmsCourseActivityDay.views,
                        LmsCourseActivityDay.participations,
                    ).where(LmsCourseActivityDay.course_id == cid)
                ),
                "hours": rows(
                    select(
                        LmsLearnerActivityHour.person_id,
                        LmsLearnerActivityHour.hour,
                        LmsLearnerActivityHour.views,
                        LmsLearnerActivityHour.participations,
                    ).where(LmsLearnerActivityHour.course_id == cid)
                ),
                "starts_on": [(settings.starts_on if settings else None,)],
            }


class Lms:
    """A fake platform (launches) and its NRPS service (roster), registered in the tool."""

    def __init__(self, app: Flask, client: FlaskClient, name: str, client_id: str) -> None:
        self.app, self.client = app, client
        self.nrps = FakeNrps(client_id=client_id, members=[dict(m) for m in ROSTER]).start()
        self.platform = FakePlatform(issuer=self.nrps.origin, client_id=client_id, name=name)
        self.platform.register(app)
        self.nrps.tool_jwks = client.get("/lti/jwks").get_json()

    def launch(self, sub: str = "user-1", roles: list[str] | None = None, **claims: Any) -> None:
        """A launch from the course that carries the NRPS claim."""
        service = {
            "context_memberships_url": self.nrps.memberships_url,
            "service_versions": ["2.0"],
        }
        response = self.platform.launch(
            self.client, roles=roles, sub=sub, **{NRPS_CLAIM: service}, **claims
        )
        assert response.status_code in (302, 303), response.get_data(as_text=True)[:2000]

    def course(self) -> Course:
        platform = db.session.scalar(select(Platform).where(Platform.name == self.platform.name))
        assert platform is not None
        course = db.session.scalar(select(Course).where(Course.platform_id == platform.id))
        assert course is not None
        return course

    def sync(self) -> SyncRun:
        with self.app.app_context():
            run = runs.run_now(db.session, self.course(), "nrps")
            db.session.expunge(run)
            return run

    def snapshot(self) -> list[tuple[Any, ...]]:
        """The course's roster as the tool holds it, by LTI user id (no ids or timestamps)."""
        with self.app.app_context():
            course = self.course()
            rows = db.session.execute(
                select(
                    PersonIdentity.value,
                    Person.name,
                    Person.email,
                    Enrollment.roles,
                    Enrollment.course_role,
                    Enrollment.status,
                    Enrollment.is_test_user,
                    Enrollment.source,
                )
                .join(Person, Person.id == Enrollment.person_id)
                .join(PersonIdentity, PersonIdentity.person_id == Person.id)
                .where(
                    Enrollment.course_id == course.id,
                    PersonIdentity.kind == "lti_sub",
                    PersonIdentity.platform_id == course.platform_id,
                )
            )
            return sorted((r[0], r[1], r[2], tuple(r[3]), *r[4:]) for r in rows)
