"""The problems page's figures kept as sums over the class's checks (ProblemSums, per problem),
so that the change of a few learners is added to them instead of adding up the class again.

Most of lti_tool.kpis.problems' figures add up over learners: learners, checks, first checks
right, checks until right; per part and answer group, the first and last answers. What does
not is taken from the most recent check: the name the events gave a problem (its latest
check's), a part's response type, grouping and display name (its most recent answer's) and a
group's text (its most recent answer's). The sums keep that check or answer beside the counts,
with its place in the order the page's functions pick it by; a learner's contribution can be
taken out again unless it is that most recent one (holds), and then the problem is counted
again from its rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from lti_tool.kpis import problems
from lti_tool.kpis.problems import (
    VALID_RESPONSE_TYPES,
    LearnerChecks,
    group_row,
    grouping_key,
    sorted_rows,
)

#: Where an answer stands in the order the most recent is picked by: (time, 0 first | 1 last,
#: person id); the largest is the most recent (distribution_rows' stable sort by time and
#: order keeps learners in person order, the last of them most recent).
Place = tuple[float, int, int]


@dataclass
class Group:
    """One answer group of a part: how many learners' first and last answers are in it, and
    its most recent answer (its place, the answer, the display name its check had)."""

    first: int
    last: int
    place: Place
    answer: dict[str, Any]
    name: str | None


@dataclass
class ProblemSums:
    """One problem's sums: learners, checks, first checks right, the checks until right of
    those who got it right (sum, count), the latest check (last time, less the person id: the
    first learner of the latest time is problem_stats' pick) and its name from events, and per
    part the answer groups (by grouping key)."""

    learners: int = 0
    attempts: int = 0
    first_right: int = 0
    until_right: int = 0
    right: int = 0
    latest: tuple[float, int] | None = None
    from_events: str | None = None
    parts: dict[str, dict[str, Group]] = field(default_factory=dict)

    def add(self, check: LearnerChecks) -> None:
        """Count one learner's checks of the problem in."""
        self.learners += 1
        self.attempts += check.attempts
        self.first_right += check.correct_at == 1
        if check.correct_at is not None:
            self.until_right += check.correct_at
            self.right += 1
        latest = (check.last_time, -check.person_id)
        if self.latest is None or latest > self.latest:
            self.latest, self.from_events = latest, check.names[1]
        for side in _sides(check):
            self._add_side(*side)

    def _add_side(
        self, place: Place, answers: dict[str, Any], name: str | None, learners: int = 1
    ) -> None:
        """Count one side (first or last check) of a learner's answers in (of `learners`
        learners whose answers are these, `place` the most recent's)."""
        for part_id, answer in answers.items():
            groups = self.parts.get(part_id)
            if groups is None:
                groups = self.parts[part_id] = {}
            key = grouping_key(answer)
            group = groups.get(key)
            if group is None:
                group = groups[key] = Group(0, 0, place, answer, name)
            elif place > group.place:
                group.place, group.answer, group.name = place, answer, name
            if place[1]:
                group.last += learners
            else:
                group.first += learners

    def replace(self, before: LearnerChecks, after: LearnerChecks) -> bool:
        """Count one learner's checks of the problem as they are now (`after`) instead of as
        they were (`before`): a side (first or last check) the same in both is left as it is,
        the other's new answers counted in before the old ones out (so that the learner's own
        later answer takes the place of theirs as a group's most recent). False when the
        problem must be counted again (as take_out)."""
        self.attempts += after.attempts - before.attempts
        self.first_right += (after.correct_at == 1) - (before.correct_at == 1)
        for check, sign in ((before, -1), (after, 1)):
            if check.correct_at is not None:
                self.until_right += sign * check.correct_at
                self.right += sign
        was, now = (before.last_time, -before.person_id), (after.last_time, -after.person_id)
        if self.latest is None or now > self.latest or now == self.latest == was:
            self.latest, self.from_events = now, after.names[1]
        elif self.latest == was:
            return False  # (a learner's latest check moved earlier: not as events come)
        for old, new in zip(_sides(before), _sides(after), strict=True):
            if old != new:
                self._add_side(*new)
                if not self._take_side(old[0], old[1]):
                    return False
        return True

    def take_out(self, check: LearnerChecks) -> bool:
        """Count one learner's checks of the problem out; False when they held its latest
        check or a group's most recent answer with others left (count the problem again)."""
        self.learners -= 1
        self.attempts -= check.attempts
        self.first_right -= check.correct_at == 1
        if check.correct_at is not None:
            self.until_right -= check.correct_at
            self.right -= 1
        if self.learners and self.latest == (check.last_time, -check.person_id):
            return False
        return all(self._take_side(place, answers) for place, answers, _name in _sides(check))

    def _take_side(self, place: Place, answers: dict[str, Any]) -> bool:
        """Count one side of a learner's answers out; False as take_out."""
        for part_id, answer in answers.items():
            groups = self.parts.get(part_id, {})
            key = grouping_key(answer)
            group = groups.get(key)
            if group is None:  # not the sums of these checks: count again
                return False
            if place[1]:
                group.last -= 1
            else:
                group.first -= 1
            if not group.first and not group.last:
                del groups[key]
                if not groups:
                    del self.parts[part_id]
            elif group.place == place:
                return False
        return True

    def stats(self, problem_id: str) -> dict[str, Any]:
        """problems.problem_stats' row of the problem."""
        return {
            "module_id": problem_id,
            "from_events": self.from_events,
            "learners": self.learners,
            "attempts": self.attempts,
            "first_attempt_correct_share": round(self.first_right / self.learners, 4),
            "mean_attempts_to_correct": (
                round(self.until_right / self.right, 2) if self.right else None
            ),
        }

    def answers(self, problem_id: str) -> list[dict[str, Any]]:
        """problems.distribution_rows of the problem's checks."""
        rows: list[dict[str, Any]] = []
        for part_id, groups in self.parts.items():
            recent = max(groups.values(), key=lambda group: group.place)
            if recent.answer.get("response_type") not in VALID_RESPONSE_TYPES:
                continue
            uses_value_id = "answer_value_id" in recent.answer
            for group in groups.values():
                row = group_row(problem_id, part_id, group.answer, uses_value_id, recent.name)
                row["first_response_count"], row["last_response_count"] = group.first, group.last
                rows.append(row)
        return sorted_rows(rows)

    def as_json(self) -> list[Any]:
        """The sums as JSON values, parts and groups sorted (one JSON for the same sums, in
        whatever order their learners were counted in)."""
        parts = {
            part_id: [
                [key, g.first, g.last, list(g.place), g.answer, g.name]
                for key, g in sorted(groups.items())
            ]
            for part_id, groups in sorted(self.parts.items())
        }
        counts = [self.learners, self.attempts, self.first_right, self.until_right, self.right]
        return [*counts, list(self.latest or ()), self.from_events, parts]

    @classmethod
    def from_json(cls, found: list[Any]) -> ProblemSums:
        """The sums as_json wrote."""
        learners, attempts, first_right, until_right, right, latest, from_events, parts = found
        return cls(
            learners,
            attempts,
            first_right,
            until_right,
            right,
            (latest[0], latest[1]) if latest else None,
            from_events,
            {
                part_id: {
                    key: Group(first, last, (place[0], place[1], place[2]), answer, name)
                    for key, first, last, place, answer, name in groups
                }
                for part_id, groups in parts.items()
            },
        )


def _sides(check: LearnerChecks) -> tuple[tuple[Place, dict[str, Any], str | None], ...]:
    """A learner's first and last check of a problem: each answer's place, answers by part,
    the display name the check had."""
    return (
        ((check.first_time, 0, check.person_id), check.first, check.names[0]),
        ((check.last_time, 1, check.person_id), check.last, check.names[1]),
    )


def of_checks(checks: Iterable[LearnerChecks]) -> dict[str, ProblemSums]:
    """Per problem, the sums of some learners' checks."""
    found: dict[str, ProblemSums] = {}
    for check in checks:
        sums = found.get(check.problem_id)
        if sums is None:  # (not setdefault, which would make a ProblemSums per check)
            sums = found[check.problem_id] = ProblemSums()
        sums.add(check)
    return found


def of_rows(rows: Iterable[Sequence[Any]]) -> dict[str, ProblemSums]:
    """Per problem, the sums of learner_problem rows as problems.check_rows reads them (as
    of_checks of their check_of), by problem id (RowSums, of these rows alone)."""
    found = RowSums()
    found.add(rows)
    return found.sums()


class RowSums:
    """of_rows in steps: rows counted in as they come (add), in batches, and their sums made
    once (sums). Each problem's distinct packed answers are decoded and counted in once, at
    the end: the learners who gave the same answers add the same groups, the most recent of
    them holds each group's place (at 100,000 learners, 765,000 rows decoded one by one were
    a quarter of a refresh from scratch; decoded batch by batch, most of them still)."""

    def __init__(self) -> None:
        self.found: dict[str, ProblemSums] = {}
        # Per problem, the packed answers of its latest check.
        self.latest: dict[str, bytes] = {}
        # Per (problem, packed answers): learners, the most recent first and last check's place.
        self.alike: dict[tuple[str, bytes], list[Any]] = {}

    def add(self, rows: Iterable[Sequence[Any]]) -> None:
        """Count some learners' rows in (each learner's rows of a problem once in all)."""
        found, latest, alike = self.found, self.latest, self.alike
        for person, problem, attempts, correct_at, first_time, last_time, packed in rows:
            if not isinstance(packed, bytes):  # (PostgreSQL's memoryview)
                packed = bytes(packed)
            sums = found.get(problem)
            if sums is None:
                sums = found[problem] = ProblemSums()
            sums.learners += 1
            sums.attempts += attempts
            if correct_at is not None:
                sums.first_right += correct_at == 1
                sums.until_right += correct_at
                sums.right += 1
            last = (last_time, -person)
            if sums.latest is None or last > sums.latest:
                sums.latest, latest[problem] = last, packed
            first_place, last_place = (first_time, 0, person), (last_time, 1, person)
            same = alike.get((problem, packed))
            if same is None:
                alike[problem, packed] = [1, first_place, last_place]
            else:
                same[0] += 1
                if first_place > same[1]:
                    same[1] = first_place
                if last_place > same[2]:
                    same[2] = last_place

    def merge(self, other: RowSums) -> None:
        """Count in the rows another counted in (of other learners): as if they had been
        added here."""
        for problem, theirs in other.found.items():
            sums = self.found.get(problem)
            if sums is None:
                self.found[problem] = replace(theirs)
                self.latest[problem] = other.latest[problem]
                continue
            sums.learners += theirs.learners
            sums.attempts += theirs.attempts
            sums.first_right += theirs.first_right
            sums.until_right += theirs.until_right
            sums.right += theirs.right
            assert sums.latest is not None and theirs.latest is not None  # (a row each)
            if theirs.latest > sums.latest:
                sums.latest, self.latest[problem] = theirs.latest, other.latest[problem]
        alike = self.alike
        for key, (learners, first_place, last_place) in other.alike.items():
            same = alike.get(key)
            if same is None:
                alike[key] = [learners, first_place, last_place]
                continue
            same[0] += learners
            if first_place > same[1]:
                same[1] = first_place
            if last_place > same[2]:
                same[2] = last_place

    def sums(self) -> dict[str, ProblemSums]:
        """Per problem, the sums of the rows counted in so far, by problem id (new objects:
        the caller may change them)."""
        found = {problem: replace(sums, parts={}) for problem, sums in self.found.items()}
        for (problem, packed), (learners, first_place, last_place) in self.alike.items():
            first_answers, last_answers, (first_name, last_name) = problems.sides(packed)
            sums = found[problem]
            sums._add_side(first_place, first_answers, first_name, learners)
            sums._add_side(last_place, last_answers, last_name, learners)
            if self.latest[problem] == packed:
                sums.from_events = last_name
        return dict(sorted(found.items()))


def figures(sums: dict[str, ProblemSums]) -> dict[str, Any]:
    """The problems page's figures (page_summary.PROBLEMS) from the sums: problem_stats' rows
    by problem id and each problem's distribution_rows."""
    return {
        "stats": [sums[problem_id].stats(problem_id) for problem_id in sorted(sums)],
        "answers": {problem_id: sums[problem_id].answers(problem_id) for problem_id in sums},
    }
