"""The pages issue 20 sets targets for, as the benches ask for them (not a bench of its own):
bench/dashboard.py loads each through gunicorn, bench/class_pages.py in process."""

from __future__ import annotations

# The learners table's sort keys (lti_tool.views.learners.SORTS) and the direction its header
# link first sorts each in: names A to Z, figures largest first (ASCENDING there).
SORT_KEYS = (
    "name",
    "sections",
    "last_active",
    "time_7d",
    "time_total",
    "sessions",
    "videos_watched",
    "completion",
    "current_score",
    "segment",
    "at_risk",
)
ASCENDING = ("name", "sections", "segment")


def page_paths(course: str, token: str, student: str, learner: int) -> list[tuple[str, str]]:
    """(name, path) of every staff and student page: `course` is the course's path
    (/courses/<id>), `token` a staff session token, `student` a learner's own page (with their
    token) and `learner` the person id of a learner whose staff page is asked for."""
    t = f"t={token}"
    pages = [
        ("overview", f"{course}/?{t}"),
        ("learners, first page", f"{course}/learners?{t}"),
    ]
    for key in SORT_KEYS:
        direction = "" if key in ASCENDING else "&dir=desc"
        pages.append((f"learners by {key}", f"{course}/learners?{t}&sort={key}{direction}"))
    pages += [
        ("learners, at risk", f"{course}/learners?{t}&risk=1"),
        ("one learner", f"{course}/learners/{learner}?{t}"),
        ("student page", student),
        ("student view (typical)", f"{course}/me?{t}"),
        ("videos", f"{course}/videos?{t}"),
        ("grades", f"{course}/grades?{t}"),
        ("content", f"{course}/content?{t}"),
        ("enrollment", f"{course}/enrollment?{t}"),
        ("problems", f"{course}/problems?{t}"),
        ("countries", f"{course}/countries?{t}"),
    ]
    return pages
