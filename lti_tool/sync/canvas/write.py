"""Writing what a run read from Canvas into the tables, in the caller's transaction."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select

from lti_tool.activity.sql import dialect_insert
from lti_tool.models import (
    Assignment,
    Course,
    CourseEvent,
    CourseModule,
    CourseSettings,
    Enrollment,
    LmsCourseActivityDay,
    LmsEnrollment,
    LmsLearnerActivityHour,
    LmsLearnerStats,
    ModuleProgress,
    PersonIdentity,
    Section,
    SectionMember,
    Submission,
)
from lti_tool.models.types import DbSession, utcnow
from lti_tool.people.linking import Claim, link_people
from lti_tool.people.roles import context_role_name, course_role
from lti_tool.sync.canvas.fetched import Fetched
from lti_tool.sync.canvas.source import KIND
from lti_tool.sync.canvas.values import ACTIVE_STATES, TYPE_ROLES

WRITE_BATCH = 5000


def _upsert(session: DbSession, model: Any, rows: list[dict[str, Any]], keys: list[str]) -> int:
    """INSERT … ON CONFLICT (keys) DO UPDATE the other given columns, as one executemany."""
    if not rows:
        return 0
    insert = dialect_insert(session, model.__table__)
    columns = [c for c in rows[0] if c not in keys]
    statement = (
        insert.on_conflict_do_update(
            index_elements=keys, set_={c: insert.excluded[c] for c in columns}
        )
        if columns
        else insert.on_conflict_do_nothing(index_elements=keys)
    )
    # executemany: the driver's own on SQLite, batched multi-row VALUES on PostgreSQL.
    for start in range(0, len(rows), WRITE_BATCH):
        session.execute(statement, rows[start : start + WRITE_BATCH])
    return len(rows)


class Writer:
    """Applies a Fetched to the database in the caller's transaction."""

    def __init__(self, session: DbSession, course: Course, data: Fetched) -> None:
        self.session = session
        self.course = course
        self.course_id = course.id
        assert course.platform_id is not None
        self.platform_id = course.platform_id
        self.data = data
        self.person: dict[str, int] = {}  # canvas user id → person id
        self.section: dict[str, Section] = {}  # canvas section id → section
        self.counts: dict[str, Any] = defaultdict(int)
        self.now = utcnow()

    def written(self, n: int) -> None:
        """Count rows written."""
        self.counts["rows_written"] += n

    # --- people --------------------------------------------------------------------------

    def people(self) -> None:
        """Find or create the person of every Canvas user; record their identities."""
        users = list(self.data.users.values())
        claims = []
        for user in users:
            identities = [("canvas_user_id", user.user_id)]
            if user.sis_user_id:
                identities.append(("canvas_sis_user_id", user.sis_user_id))
            if user.login_id:
                identities.append(("canvas_login_id", user.login_id))
            attrs = {k: v for k, v in (("name", user.name), ("email", user.email)) if v}
            claims.append(Claim(identities, attrs))
        linked = link_people(self.session, self.platform_id, claims)
        for user, person_id in zip(users, linked.person_ids, strict=True):
            self.person[user.user_id] = person_id
        self.counts["people_merged"] += linked.merged
        self.counts["people_added"] = len(linked.created)
        self.written(len(linked.created) + linked.identities_added + linked.attributes_changed)
        self.session.flush()

    def enrollments(self) -> None:
        """Roles and status from the Canvas enrollments; users gone from Canvas → inactive."""
        existing = {
            e.person_id: e
            for e in self.session.scalars(
                select(Enrollment).where(Enrollment.course_id == self.course_id)
            )
        }
        listed: set[int] = set()
        for user in self.data.users.values():
            person_id = self.person[user.user_id]
            listed.add(person_id)
            active = any(state in ACTIVE_STATES for _, state in user.types)
            # The roles of the active enrollments (a dropped second role stays out); of all
            # of them when none is active.
            roles: list[str] = []
            for kind, state in user.types:
                if state in ACTIVE_STATES or not active:
                    roles += [r for r in TYPE_ROLES[kind] if r not in roles]
            role = course_role(roles)
            wanted: dict[str, Any] = {
                "course_role": role.role,
                "status": "active" if active else "inactive",
                "source": KIND,
            }
            enrollment = existing.get(person_id)
            if enrollment is None:
                self.session.add(
                    Enrollment(
                        course_id=self.course_id,
                        person_id=person_id,
                        roles=roles,
                        is_test_user=role.is_test_user,
                        **wanted,
                    )
                )
                self.counts["added"] += 1
                self.written(1)
                continue
            # Keep the institution and system roles a launch gave, and its test-user flag.
            kept = [r for r in enrollment.roles or [] if context_role_name(r) is None]
            wanted["roles"] = roles + [r for r in kept if r not in roles]
            wanted["is_test_user"] = enrollment.is_test_user or role.is_test_user
            changed = {k: v for k, v in wanted.items() if getattr(enrollment, k) != v}
            if changed:
                for key, value in changed.items():
                    setattr(enrollment, key, value)
                self.counts["updated"] += 1
                self.written(1)
            else:
                self.counts["unchanged"] += 1
        self.counts["members"] = len(self.data.users)
        self.enrollment_dates()
        if not self.data.users:
            self.data.warnings.append("Canvas listed no enrollments: nobody was marked inactive")
            return
        named = set(
            self.session.scalars(
                select(PersonIdentity.person_id).where(
                    PersonIdentity.platform_id == self.platform_id,
                    PersonIdentity.kind == "canvas_user_id",
                    PersonIdentity.person_id.in_(list(existing) or [-1]),
                )
            )
        )
        for person_id, enrollment in existing.items():
            if person_id not in listed and person_id in named and enrollment.status != "inactive":
                enrollment.status = "inactive"
                enrollment.source = KIND
                self.counts["deactivated"] += 1
                self.written(1)

    def enrollment_dates(self) -> None:
        """When each user's enrollment was made and its mode (student, or other for staff and
        observers): the enrollment page's history for a course without enrollment events."""
        rows = [
            {
                "course_id": self.course_id,
                "person_id": self.person[user.user_id],
                "created_at": user.created_at,
                "mode": (
                    "student" if any(k == "StudentEnrollment" for k, _ in user.types) else "other"
                ),
            }
            for user in self.data.users.values()
        ]
        _upsert(self.session, LmsEnrollment, rows, ["course_id", "person_id"])

    # --- course structure ----------------------------------------------------------------

    def sections(self) -> None:
        """Sections upserted; members follow the enrollments' sections."""
        rows = {
            s.lms_section_id: s
            for s in self.session.scalars(
                select(Section).where(Section.course_id == self.course_id)
            )
        }
        self.section = rows
        if self.data.sections is None:
            return
        for section_key, name in self.data.sections:
            section = rows.get(section_key)
            if section is None:
                section = Section(course_id=self.course_id, lms_section_id=section_key, name=name)
                self.session.add(section)
                rows[section_key] = section
                self.written(1)
            elif section.name != name:
                section.name = name
                self.written(1)
        self.session.flush()
        wanted = {
            (rows[s].id, self.person[u.user_id])
            for u in self.data.users.values()
            for s in u.sections
            if s in rows
        }
        ids = [s.id for s in rows.values()]
        have = set(
            self.session.execute(
                select(SectionMember.section_id, SectionMember.person_id).where(
                    SectionMember.section_id.in_(ids or [-1])
                )
            ).tuples()
        )
        gone = have - wanted
        for section_id, person_id in gone:
            self.session.execute(
                delete(SectionMember).where(
                    SectionMember.section_id == section_id, SectionMember.person_id == person_id
                )
            )
        self.written(len(gone))
        self.written(
            _upsert(
                self.session,
                SectionMember,
                [{"section_id": s, "person_id": p} for s, p in sorted(wanted - have)],
                ["section_id", "person_id"],
            )
        )
        self.counts["sections"] = len(self.data.sections)

    def assignments(self) -> dict[str, int]:
        """Assignments upserted (vanished ones marked removed), due dates kept as events."""
        rows = {
            a.lms_assignment_id: a
            for a in self.session.scalars(
                select(Assignment).where(Assignment.course_id == self.course_id)
            )
        }
        if self.data.assignments is None:
            return {k: a.id for k, a in rows.items()}
        seen = set()
        for values in self.data.assignments:
            key = values["lms_assignment_id"]
            seen.add(key)
            wanted = {**values, "removed": False}
            assignment = rows.get(key)
            if assignment is None:
                assignment = Assignment(course_id=self.course_id, **wanted)
                self.session.add(assignment)
                rows[key] = assignment
                self.written(1)
                continue
            changed = {k: v for k, v in wanted.items() if getattr(assignment, k) != v}
            for k, v in changed.items():
                setattr(assignment, k, v)
            self.written(bool(changed))
        for key, assignment in rows.items():
            if key not in seen and not assignment.removed:
                assignment.removed = True
                self.written(1)
        self.session.flush()
        self.counts["assignments"] = len(seen)
        self._events({v["lms_assignment_id"]: v for v in self.data.assignments})
        return {k: a.id for k, a in rows.items()}

    def _events(self, assignments: dict[str, dict[str, Any]]) -> None:
        """One course event per date: the date for everyone, and one per section override.

        lms_id is the assignment id for everyone's date and "<assignment id>:section:<section
        id>" for a section's, so each stays unique in (course, source) and follows Canvas.
        """
        events = {
            e.lms_id: e
            for e in self.session.scalars(
                select(CourseEvent).where(
                    CourseEvent.course_id == self.course_id, CourseEvent.source == KIND
                )
            )
        }
        # (when, the assignment's name, the section's name, the section): the page writes
        # "… due" in the viewer's language (kpis.course_events.title).
        wanted: dict[str, tuple[datetime, str, str | None, int | None]] = {}
        unknown_sections = 0
        for key, values in assignments.items():
            if not values["published"]:
                continue
            name = (values["name"] or "")[:500]
            dates = self.data.dates.get(key)
            everyone = dates.everyone if dates is not None else values["due_at"]
            if everyone is not None:
                wanted[key] = (everyone, name, None, None)
            for section_key, due, section_title in dates.sections if dates is not None else ():
                section = self.section.get(section_key)
                if section is None:
                    unknown_sections += 1  # not in the sections list (or it was not readable)
                    continue
                if due == everyone:
                    continue  # the same date as everyone's: one marker is enough
                label = (section.name or section_title or "")[:500] or None
                wanted[f"{key}:section:{section_key}"] = (due, name, label, section.id)
        for lms_id, (at, title, section_name, section_id) in wanted.items():
            event = events.get(lms_id)
            if event is None:
                self.session.add(
                    CourseEvent(
                        course_id=self.course_id,
                        source=KIND,
                        lms_id=lms_id,
                        kind="due",
                        title=title,
                        section_name=section_name,
                        at=at,
                        section_id=section_id,
                    )
                )
                self.written(1)
            elif (event.at, event.title, event.section_name, event.section_id) != (
                at,
                title,
                section_name,
                section_id,
            ):
                event.at, event.title, event.section_id = at, title, section_id
                event.section_name = section_name
                self.written(1)
        for stored_id, event in events.items():
            if stored_id not in wanted:
                self.session.delete(event)
                self.written(1)
        self.counts["events"] = len(wanted)
        if unknown_sections:
            self.counts["events_unknown_section"] = unknown_sections
        truncated = [
            k for k in self.data.dates_truncated if assignments.get(k, {}).get("published")
        ]
        if truncated:
            self.data.warnings.append(
                f"{len(truncated)} assignment(s) have 25 or more date overrides, which Canvas "
                "does not list: their section due dates are not on the charts (each learner's "
                "own due date still comes from their submission)"
            )

    def submissions(self, assignment_ids: dict[str, int]) -> None:
        """Submissions upserted where they changed."""
        if not self.data.submissions_read:
            return
        total = seen = unknown = 0
        for chunk in self.data.submissions.chunks():
            rows = []
            for aid, uid, score, submitted, graded, late, missing, excused, state, due in chunk:
                assignment_id, person_id = assignment_ids.get(aid), self.person.get(uid)
                if assignment_id is None or person_id is None:
                    unknown += 1
                    continue
                rows.append(
                    {
                        "assignment_id": assignment_id,
                        "person_id": person_id,
                        "score": score,
                        "submitted_at": submitted,
                        "graded_at": graded,
                        "late": late,
                        "missing": missing,
                        "excused": excused,
                        "workflow_state": state,
                        "due_at": due,
                    }
                )
            # The same submission may come twice (submitted and graded since): the last wins.
            unique = {(r["assignment_id"], r["person_id"]): r for r in rows}
            seen += len(unique)
            changed = self._changed_submissions(unique)
            total += _upsert(self.session, Submission, changed, ["assignment_id", "person_id"])
        self.written(total)
        self.counts["submissions"] = seen
        self.counts["submissions_written"] = total
        if unknown:
            self.counts["submissions_skipped"] = unknown

    def _changed_submissions(
        self, rows: dict[tuple[int, int], dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """The rows that differ from what is stored (a chunk is one page: memory stays flat)."""
        if not rows:
            return []
        columns = [c for c in next(iter(rows.values())) if c not in ("assignment_id", "person_id")]
        people = sorted({p for _, p in rows})
        assignments = sorted({a for a, _ in rows})
        stored: dict[tuple[int, int], tuple[Any, ...]] = {}
        for start in range(0, len(people), 900):
            for row in self.session.execute(
                select(
                    Submission.assignment_id,
                    Submission.person_id,
                    *(getattr(Submission, c) for c in columns),
                ).where(
                    Submission.person_id.in_(people[start : start + 900]),
                    Submission.assignment_id.in_(assignments),
                )
            ):
                stored[(row[0], row[1])] = tuple(row[2:])
        return [
            row for key, row in rows.items() if stored.get(key) != tuple(row[c] for c in columns)
        ]

    def modules(self) -> dict[str, int]:
        """Modules upserted (vanished or unpublished ones marked removed)."""
        rows = {
            m.lms_module_id: m
            for m in self.session.scalars(
                select(CourseModule).where(CourseModule.course_id == self.course_id)
            )
        }
        if self.data.modules is None:
            return {k: m.id for k, m in rows.items() if not m.removed}
        seen = set()
        for module_id, name, position, required in self.data.modules:
            if required < 0:
                continue  # unpublished: out of the figures, like a removed module
            seen.add(module_id)
            wanted = {
                "name": name,
                "position": position,
                "items_required": required,
                "removed": False,
            }
            module = rows.get(module_id)
            if module is None:
                module = CourseModule(course_id=self.course_id, lms_module_id=module_id, **wanted)
                self.session.add(module)
                rows[module_id] = module
                self.written(1)
                continue
            changed = {k: v for k, v in wanted.items() if getattr(module, k) != v}
            for k, v in changed.items():
                setattr(module, k, v)
            self.written(bool(changed))
        for key, module in rows.items():
            if key not in seen and not module.removed:
                module.removed = True
                self.written(1)
        self.session.flush()
        self.counts["modules"] = len(seen)
        return {k: m.id for k, m in rows.items() if k in seen}

    def module_progress(self, module_ids: dict[str, int]) -> dict[str, tuple[Any, ...]]:
        """Per-student module states; returns each learner's course-level progress from them."""
        derived: dict[str, list[Any]] = {}
        total = 0
        rows: list[dict[str, Any]] = []
        for chunk in self.data.module_states.chunks():
            if len(rows) >= WRITE_BATCH:
                total += _upsert(self.session, ModuleProgress, rows, ["module_id", "person_id"])
                rows = []
            for uid, module_key, state, completed_at, required, done in chunk:
                person_id = self.person.get(uid)
                module_id = module_ids.get(module_key)
                if person_id is None or module_id is None:
                    continue
                rows.append(
                    {
                        "module_id": module_id,
                        "person_id": person_id,
                        "items_required": required,
                        "items_done": done,
                        "state": state,
                        "completed_at": completed_at,
                    }
                )
                sums = derived.setdefault(uid, [0, 0, None, True])
                sums[0] += required
                sums[1] += done
                if required and done < required:
                    sums[3] = False
                if completed_at and (sums[2] is None or completed_at > sums[2]):
                    sums[2] = completed_at
        total += _upsert(self.session, ModuleProgress, rows, ["module_id", "person_id"])
        self.written(total)
        self.counts["module_progress"] = total
        return {
            uid: (req, done, at if complete and req else None)
            for uid, (req, done, at, complete) in derived.items()
        }

    # --- figures -------------------------------------------------------------------------

    def stats(self, derived: dict[str, tuple[Any, ...]]) -> None:
        """Learner stats from enrollments, summaries and progress, written where changed."""
        existing = {
            s.person_id: s
            for s in self.session.scalars(
                select(LmsLearnerStats).where(LmsLearnerStats.course_id == self.course_id)
            )
        }
        written = 0
        for user in self.data.users.values():
            if not user.learner:
                continue
            person_id = self.person[user.user_id]
            wanted: dict[str, Any] = {
                "source": KIND,
                "total_activity_seconds": user.activity_seconds,
                "last_activity_at": user.last_activity_at,
                "current_score": user.current_score,
                "final_score": user.final_score,
                "unposted_current_score": user.unposted_current_score,
                "unposted_final_score": user.unposted_final_score,
                "current_grade": user.current_grade,
                "final_grade": user.final_grade,
            }
            summary = self.data.summaries.get(user.user_id)
            if summary is not None:
                keys: tuple[str, ...] = (
                    "page_views",
                    "participations",
                    "missing",
                    "late",
                    "on_time",
                )
                wanted.update(zip(keys, summary, strict=True))
            progress = self.data.progress.get(user.user_id) or derived.get(user.user_id)
            if progress is not None:
                keys = ("requirements", "requirements_done", "completed_at")
                wanted.update(zip(keys, progress, strict=True))
            row = existing.get(person_id)
            if row is None:
                self.session.add(
                    LmsLearnerStats(
                        course_id=self.course_id, person_id=person_id, synced_at=self.now, **wanted
                    )
                )
                written += 1
                continue
            changed = {k: v for k, v in wanted.items() if getattr(row, k) != v}
            if changed:
                for k, v in changed.items():
                    setattr(row, k, v)
                row.synced_at = self.now
                written += 1
        self.written(written)
        self.counts["learner_stats"] = written

    def course_days(self) -> None:
        """Course activity per day, written where changed."""
        if self.data.days is None:
            return
        existing = {
            day: (views, parts)
            for day, views, parts in self.session.execute(
                select(
                    LmsCourseActivityDay.day,
                    LmsCourseActivityDay.views,
                    LmsCourseActivityDay.participations,
                ).where(LmsCourseActivityDay.course_id == self.course_id)
            )
        }
        rows = [
            {"course_id": self.course_id, "day": day, "views": views, "participations": parts}
            for day, views, parts in self.data.days
            if existing.get(day) != (views, parts)
        ]
        written = _upsert(self.session, LmsCourseActivityDay, rows, ["course_id", "day"])
        self.written(written)
        self.counts["activity_days"] = len(self.data.days)

    def hours(self) -> None:
        """Active learners' hourly activity, written where changed."""
        total = 0
        any_rows = self.session.scalar(
            select(LmsLearnerActivityHour.person_id)
            .where(LmsLearnerActivityHour.course_id == self.course_id)
            .limit(1)
        )
        keys = ["course_id", "person_id", "hour"]
        rows: list[dict[str, Any]] = []
        for chunk in self.data.hours.chunks():
            for uid, hours in chunk:
                person_id = self.person.get(uid)
                if person_id is None:
                    continue
                existing = (
                    {}
                    if any_rows is None
                    else {
                        hour: (views, parts)
                        for hour, views, parts in self.session.execute(
                            select(
                                LmsLearnerActivityHour.hour,
                                LmsLearnerActivityHour.views,
                                LmsLearnerActivityHour.participations,
                            ).where(
                                LmsLearnerActivityHour.course_id == self.course_id,
                                LmsLearnerActivityHour.person_id == person_id,
                            )
                        )
                    }
                )
                rows += [
                    {
                        "course_id": self.course_id,
                        "person_id": person_id,
                        "hour": hour,
                        "views": views,
                        "participations": parts,
                    }
                    for hour, views, parts in hours
                    if existing.get(hour) != (views, parts)
                ]
                if len(rows) >= WRITE_BATCH:
                    total += _upsert(self.session, LmsLearnerActivityHour, rows, keys)
                    rows = []
        total += _upsert(self.session, LmsLearnerActivityHour, rows, keys)
        self.written(total)
        self.counts["activity_hours"] = total

    def settings(self) -> None:
        """The course start and end from Canvas, each unless staff set one."""
        dates = {
            name: value.date()
            for name, key in (("starts_on", "start_at"), ("ends_on", "end_at"))
            if (value := self.data.course.get(key)) is not None
        }
        if not dates:
            return
        settings = self.session.get(CourseSettings, self.course_id)
        if settings is None:
            self.session.add(CourseSettings(course_id=self.course_id, **dates))
            self.written(1)
            return
        for name, day in dates.items():
            if getattr(settings, name) is None:
                setattr(settings, name, day)
                self.written(1)

    def run(self) -> dict[str, Any]:
        """Write everything; return the counts."""
        self.people()
        self.enrollments()
        self.sections()
        assignment_ids = self.assignments()
        self.submissions(assignment_ids)
        module_ids = self.modules()
        derived = self.module_progress(module_ids)
        self.stats(derived)
        self.course_days()
        self.hours()
        self.settings()
        self.session.flush()
        return dict(self.counts)
