"""Completion: items with a completion requirement done ÷ items with a requirement (design §7).

Per module from the LMS's module progress (Canvas modules); a learner the LMS reported nothing
for in a module has done none of its required items. Where a course has no modules but the LMS
reports requirement totals (Canvas bulk_user_progress), those are used instead.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from statistics import median
from typing import Any

from sqlalchemy import Select, and_, case, func, select

from lti_tool.kpis.labels import course_label, learner_labels
from lti_tool.kpis.names import module_name
from lti_tool.kpis.roster import Member, class_member_ids
from lti_tool.models import Course, CourseModule, LmsLearnerStats, ModuleProgress
from lti_tool.models.types import DbSession


@dataclass(frozen=True)
class Progress:
    """One learner's items done and required, over the course."""

    done: int
    required: int

    @property
    def share(self) -> float | None:
        """Done ÷ required, None when nothing is required."""
        return self.done / self.required if self.required else None


def modules(session: DbSession, course: Course) -> list[CourseModule]:
    """The course's modules (not removed at the LMS), in course order."""
    return list(
        session.scalars(
            select(CourseModule)
            .where(
                CourseModule.course_id == course.id,
                CourseModule.removed.is_(False),
            )
            .order_by(CourseModule.position, CourseModule.id)
        )
    )


#: Up to this many people, their progress rows are read by person (indexed) rather than the
#: whole course's read and filtered: a learner's own page in a course of 100,000 learners and
#: 15 modules read 1.5 million rows for their 15.
FEW_PEOPLE = 500


def _of_few(query: Select[Any], people: set[int]) -> Select[Any]:
    """The query of progress rows kept to these people's when they are few."""
    if len(people) > FEW_PEOPLE:
        return query
    return query.where(ModuleProgress.person_id.in_(sorted(people)))


def module_progress(
    session: DbSession, course: Course, people: set[int]
) -> dict[tuple[int, int], Any]:
    """(module id, person id) -> the LMS's progress (a row: items_required, items_done,
    completed_at), for some people."""
    found: dict[tuple[int, int], Any] = {}
    # Core rows, not ORM objects: a course has learners times modules of them.
    query = (
        select(
            ModuleProgress.module_id,
            ModuleProgress.person_id,
            ModuleProgress.items_required,
            ModuleProgress.items_done,
            ModuleProgress.completed_at,
        )
        .join(CourseModule, CourseModule.id == ModuleProgress.module_id)
        .where(CourseModule.course_id == course.id)
    )
    for row in session.connection().execute(_of_few(query, people)):
        if row.person_id in people:
            found[(row.module_id, row.person_id)] = row
    return found


def modules_of(
    session: DbSession, course: Course, person_id: int
) -> list[tuple[CourseModule, Any]]:
    """The course's modules (as `modules`) each with one learner's progress row (as
    `module_progress`'s, None when the LMS reported none): one read."""
    query = (
        select(
            CourseModule,
            ModuleProgress.items_required,
            ModuleProgress.items_done,
            ModuleProgress.completed_at,
            ModuleProgress.person_id,
        )
        .outerjoin(
            ModuleProgress,
            and_(
                ModuleProgress.module_id == CourseModule.id, ModuleProgress.person_id == person_id
            ),
        )
        .where(CourseModule.course_id == course.id, CourseModule.removed.is_(False))
        .order_by(CourseModule.position, CourseModule.id)
    )
    return [(row[0], row if row.person_id is not None else None) for row in session.execute(query)]


def learner_progress(
    session: DbSession, course: Course, members: dict[int, Member]
) -> dict[int, Progress]:
    """Items done and required per learner; empty when the LMS reports no requirements."""
    return progress_of(session, course, members, {p: m.lms for p, m in members.items()})


def progress_of(
    session: DbSession, course: Course, people_in_order: Collection[int], lms: Mapping[int, Any]
) -> dict[int, Progress]:
    """learner_progress of some people (in the order their progress is given) from their LMS
    statistics (`lms`: a row of roster.STATS_COLUMNS or None, by person)."""
    mods = modules(session, course)
    people = set(people_in_order)
    result: dict[int, Progress] = {}
    if any(m.items_required for m in mods):
        # Summed in the database: a large course has learners times modules progress rows.
        required_here = func.coalesce(
            func.nullif(ModuleProgress.items_required, 0), CourseModule.items_required
        )
        done_here = case(
            (ModuleProgress.items_done > required_here, required_here),
            else_=ModuleProgress.items_done,
        )
        sums = session.connection().execute(
            _of_few(
                select(
                    ModuleProgress.person_id,
                    func.sum(done_here),
                    func.sum(required_here),
                    func.sum(CourseModule.items_required),
                )
                .join(CourseModule, CourseModule.id == ModuleProgress.module_id)
                .where(CourseModule.course_id == course.id, CourseModule.removed.is_(False))
                .group_by(ModuleProgress.person_id),
                people,
            )
        )
        every_module = sum(m.items_required for m in mods)
        reported = {p: (int(d or 0), int(r or 0), int(m or 0)) for p, d, r, m in sums}
        for person_id in people:
            done, required, covered = reported.get(person_id, (0, 0, 0))
            # Modules the LMS reported nothing for: all their required items still to do.
            result[person_id] = Progress(done, required + every_module - covered)
        return result
    for person_id in people_in_order:
        stats = lms.get(person_id)
        if stats is not None and stats.requirements:
            result[person_id] = Progress(stats.requirements_done or 0, stats.requirements)
    return result


def completion(session: DbSession, course: Course) -> list[dict[str, Any]]:
    """Per learner and module: items required and done, and when the module was completed."""
    people = class_member_ids(session, course)
    names = learner_labels(session, people)
    label = course_label(course)
    mods = modules(session, course)
    progress = module_progress(session, course, people)
    rows: list[dict[str, Any]] = []
    for person_id in sorted(people, key=lambda p: names[p]):
        for module in mods:
            found = progress.get((module.id, person_id))
            required = (found.items_required if found else 0) or module.items_required
            rows.append(
                {
                    "course": label,
                    "learner": names[person_id],
                    "module": module.name,
                    "items_required": required,
                    "items_done": min(found.items_done, required) if found else 0,
                    "completed_at": (
                        found.completed_at.isoformat() if found and found.completed_at else None
                    ),
                }
            )
    if not mods:
        for stats in session.scalars(
            select(LmsLearnerStats).where(LmsLearnerStats.course_id == course.id)
        ):
            if stats.person_id in people and stats.requirements:
                rows.append(
                    {
                        "course": label,
                        "learner": names[stats.person_id],
                        "module": "(whole course)",
                        "items_required": stats.requirements,
                        "items_done": stats.requirements_done or 0,
                        "completed_at": (
                            stats.completed_at.isoformat() if stats.completed_at else None
                        ),
                    }
                )
        rows.sort(key=lambda r: r["learner"])
    return rows


def module_done(module: CourseModule, found: Any) -> tuple[int, int]:
    """A learner's items done (at most those required) and items required in one module, from
    the LMS's progress row (None: nothing reported, so none done)."""
    required = (found.items_required if found else 0) or module.items_required
    return (min(found.items_done, required) if found else 0), required


def module_rows(session: DbSession, course: Course, people: set[int]) -> list[dict[str, Any]]:
    """Per module over some learners: how many completed it, started it, and the median done."""
    mods = modules(session, course)
    progress = module_progress(session, course, people)
    rows: list[dict[str, Any]] = []
    for number, module in enumerate(mods, 1):
        done = [module_done(module, progress.get((module.id, p))) for p in people]
        rows.append(
            {
                "module": module_name(module.name, number),
                "items_required": module.items_required,
                "learners": len(done),
                "completed": sum(1 for d, r in done if r and d >= r),
                "started": sum(1 for d, _r in done if d > 0),
                "median_done": median([d for d, _r in done]) if done else None,
            }
        )
    return rows
