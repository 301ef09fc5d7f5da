"""At risk: a transparent rule, every flag with its reasons (design §7), thresholds from settings.

A learner is at risk when any of these holds:
1. no activity for `risk_inactive_days` days or more (the latest of the tool's activity and the
   LMS's last_activity_at), or no activity recorded at all;
2. time spent below the `risk_time_percentile`-th percentile of the class (the tool's time-spent
   method at the course cutoff; Canvas's total_activity_time when the tool has no activity);
3. completion behind the class median by more than `risk_completion_behind` items;
4. current score below the pass mark (`risk_pass_mark`, when set): the score staff see (with
   grades not yet posted counted, where the LMS gave it), as the reasons are shown to staff.
"""

from __future__ import annotations

from datetime import date
from statistics import median

from lti_tool.kpis.completion import Progress
from lti_tool.kpis.course_settings import Settings
from lti_tool.kpis.grades import staff_current_score
from lti_tool.kpis.roster import Member, percentile


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h"


def time_metric(members: dict[int, Member]) -> tuple[dict[int, float], str]:
    """Each learner's time for the rule, and what it is: the tool's method, else Canvas's."""
    if any(m.active_days for m in members.values()):
        return {p: m.time_total for p, m in members.items()}, "time spent"
    lms = {
        p: float(m.lms.total_activity_seconds)
        for p, m in members.items()
        if m.lms is not None and m.lms.total_activity_seconds is not None
    }
    return lms, "LMS activity time"


def at_risk(
    members: dict[int, Member],
    progress: dict[int, Progress],
    settings: Settings,
    today: date,
) -> dict[int, list[str]]:
    """Person id -> the reasons they are at risk (an empty list: not at risk)."""
    reasons: dict[int, list[str]] = {p: [] for p in members}
    limit = settings.risk_inactive_days
    for person_id, member in members.items():
        if member.last_active is None:
            reasons[person_id].append("no activity recorded")
            continue
        days = (today - member.last_active.astimezone(settings.zone).date()).days
        if days >= limit:
            reasons[person_id].append(f"no activity for {days} days (rule: {limit} or more)")
    times, what = time_metric(members)
    share = settings.risk_time_percentile
    if times and share > 0:
        threshold = percentile(list(times.values()), share / 100)
        for person_id, seconds in times.items():
            if seconds < threshold:
                reasons[person_id].append(
                    f"{what} {_hours(seconds)}, in the bottom {share} % of the class "
                    f"(below {_hours(threshold)})"
                )
    if progress:
        middle = median(p.done for p in progress.values())
        behind_limit = settings.risk_completion_behind
        for person_id, mine in progress.items():
            behind = middle - mine.done
            if behind > behind_limit:
                reasons[person_id].append(
                    f"{mine.done} items done, {behind:g} behind the class median of {middle:g} "
                    f"(rule: more than {behind_limit})"
                )
    mark = settings.risk_pass_mark
    if mark is not None:
        for person_id, member in members.items():
            score = staff_current_score(member.lms)
            if score is not None and score < mark:
                reasons[person_id].append(
                    f"current score {score:g} % below the pass mark of {mark:g} %"
                )
    return reasons
