"""Names people read: a course's videos, problems, pages and modules by their LMS names (else
"Video 3" in course order), and event types and activity labels in plain words.

Events name what they touch by ids: Open edX video events by the video block's url_name (the
32-hex last part of its usage key `block-v1:…+type@video+block@<hex>`), problem events by the
full usage key, courseware page views by the subsection's url_name in the URL. The course's
blocks (CourseBlock, from the Open edX sync) give each a name and a place in the course; where
no name is known, a label in course order stands in, and the id goes in a tooltip. Every page
and report reads names from here, so that one video has one name everywhere.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select

from lti_tool.activity.rollups import courseware_page
from lti_tool.i18n.text import N_, LazyText, lazy_gettext
from lti_tool.models import Course, CourseBlock, LearnerResource, Video, VideoLearnerViews
from lti_tool.models.types import DbSession

# A resource kind -> its stand-in label ("Video 3") and the name of one without a label.
KIND_LABELS = {
    "video": N_("Video %(number)s"),
    "problem": N_("Problem %(number)s"),
    "page": N_("Page %(number)s"),
    "activity": N_("Item %(number)s"),
}
UNNAMED = {
    "video": N_("Unnamed video"),
    "problem": N_("Unnamed problem"),
    "page": N_("Unnamed page"),
    "activity": N_("Unnamed item"),
}
#: A name people read: the LMS's own (a str), or a stand-in label in the reader's language.
Name = str | LazyText
# The course blocks whose order numbers each kind's stand-in labels: subsections are the pages
# courseware URLs show.
KIND_BLOCK_TYPES = {"video": ("video",), "problem": ("problem",), "page": ("sequential",)}

# Insights' activity labels (WeeklyActivity.label), as a chart legend or a table cell says them.
# Marked for translation (N_): show them through activity_label.
ACTIVITY_LABELS = {
    "ACTIVE": N_("Active"),
    "PLAYED_VIDEO": N_("Played a video"),
    "ATTEMPTED_PROBLEM": N_("Attempted a problem"),
    "POSTED_FORUM": N_("Posted in the forum"),
}

# Event types (tracking-log names; the xAPI statements and lab messages stored under them) in
# plain words (marked for translation: show them through event_words). Other names get
# event_words' fallback.
EVENT_WORDS = {
    "problem_check": N_("checked an answer"),
    "problem_check_fail": N_("checked an answer (not accepted)"),
    "problem_show": N_("showed the answer"),
    "showanswer": N_("showed the answer"),
    "problem_save": N_("saved an answer"),
    "problem_reset": N_("reset a problem"),
    "problem_graded": N_("had an answer graded"),
    "problem_rescore": N_("had an answer rescored"),
    "edx.grades.problem.submitted": N_("had a problem graded"),
    "edx.grades.subsection.grade_calculated": N_("had a subsection graded"),
    "edx.grades.course.grade_calculated": N_("had the course grade updated"),
    "edx.course.grade.now_passed": N_("passed the course"),
    "edx.course.grade.now_failed": N_("fell below the course's pass mark"),
    "edx.course.grade.passed.first_time": N_("passed the course"),
    "play_video": N_("played a video"),
    "edx.video.played": N_("played a video"),
    "pause_video": N_("paused a video"),
    "edx.video.paused": N_("paused a video"),
    "seek_video": N_("moved along a video"),
    "edx.video.position.changed": N_("moved along a video"),
    "stop_video": N_("stopped a video"),
    "edx.video.stopped": N_("stopped a video"),
    "load_video": N_("loaded a video"),
    "edx.video.loaded": N_("loaded a video"),
    "complete_video": N_("watched a video to the end"),
    "edx.video.completed": N_("watched a video to the end"),
    "speed_change_video": N_("changed a video's speed"),
    "show_transcript": N_("showed a video's transcript"),
    "edx.video.transcript.shown": N_("showed a video's transcript"),
    "hide_transcript": N_("hid a video's transcript"),
    "edx.video.transcript.hidden": N_("hid a video's transcript"),
    "seq_goto": N_("opened a unit"),
    "seq_next": N_("went to the next unit"),
    "seq_prev": N_("went to the previous unit"),
    "edx.ui.lms.sequence.tab_selected": N_("opened a unit"),
    "edx.ui.lms.sequence.next_selected": N_("went to the next unit"),
    "edx.ui.lms.sequence.previous_selected": N_("went to the previous unit"),
    "edx.ui.lms.outline.selected": N_("opened a page from the course outline"),
    "edx.ui.lms.link_clicked": N_("followed a link"),
    "page_close": N_("left a page"),
    "edx.course.enrollment.activated": N_("enrolled"),
    "edx.course.enrollment.deactivated": N_("unenrolled"),
    "edx.course.enrollment.mode_changed": N_("changed enrollment mode"),
}

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SEPARATORS = re.compile(r"[._\-/:#+]+")
_HEX_ID = re.compile(r"\b[0-9a-f]{16,}\b", re.IGNORECASE)


def url_name(block_id: str) -> str:
    """The last part of a usage key (block-v1:…+type@video+block@<name>, i4x://…/<name>): what
    Open edX's video events and courseware URLs name a block by."""
    at = block_id.rfind("block@")
    if at >= 0:
        return block_id[at + 6 :]
    if block_id.startswith("i4x://"):
        return block_id.rstrip("/").rsplit("/", 1)[-1]
    return block_id


def sentence(text: Name) -> str:
    """A phrase with its first letter in capitals, the rest as it is ("Opened Week 1")."""
    text = str(text)
    return text[:1].upper() + text[1:]


def activity_label(label: str) -> Name:
    """An activity label (ATTEMPTED_PROBLEM) as people read it ("Attempted a problem"), in the
    language of where it is shown."""
    known = ACTIVITY_LABELS.get(label)
    return lazy_gettext(known) if known else sentence(_readable(label))


def _readable(code: str) -> str:
    """A code without a known wording in plain words: an IRI's last part, separators as spaces,
    camelCase split, long hex ids left out."""
    text = code.strip()
    if "://" in text:  # an xAPI verb or activity IRI: its last part says what happened
        text = text.rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1]
    text = text.removeprefix("edx.ui.lms.").removeprefix("edx.")
    text = _HEX_ID.sub(" ", _CAMEL.sub(" ", text))
    words = _SEPARATORS.sub(" ", text).split()
    return " ".join(words).lower() or "other event"


def event_words(name: str, page: Name | None = None) -> Name:
    """An event type in plain words ("checked an answer"); a page view as "opened <page>" with
    the page's name when given, and any other type readable without its codes."""
    known = EVENT_WORDS.get(name)
    if known is not None:
        return lazy_gettext(known)
    if name.startswith("/"):  # a tracking log's page view: the URL's path
        if page:
            return lazy_gettext("opened %(page)s", page=page)
        if "/courses/" in name:
            return lazy_gettext("opened a course page")
        return lazy_gettext("opened a page")
    return _readable(name)


@dataclass(frozen=True, slots=True)
class Shown:
    """A name as a page shows it: the text people read, and the id behind it (the tooltip)."""

    text: Name
    id: str
    known: bool  # the LMS's own name, not a stand-in label


@dataclass
class CourseNames:
    """The names of a course's videos, problems and pages: (kind, id events use) -> name."""

    # In course order: the blocks', then the others' in order of first appearance.
    names: dict[tuple[str, str], Name] = field(default_factory=dict)
    known: set[tuple[str, str]] = field(default_factory=set)
    order: dict[tuple[str, str], int] = field(default_factory=dict)

    def name(self, kind: str, resource_id: str) -> Name:
        """The readable name of a video, problem, page or activity; never the raw id."""
        found = self.names.get((kind, resource_id))
        if found is not None:
            return found
        return lazy_gettext(UNNAMED.get(kind, UNNAMED["activity"]))

    def shown(self, kind: str, resource_id: str) -> Shown:
        """The name with its id, for a cell that shows the name and puts the id in a tooltip."""
        key = (kind, resource_id)
        return Shown(self.name(kind, resource_id), resource_id, key in self.known)

    def rank(self, kind: str, resource_id: str) -> tuple[int, str]:
        """A sort key that puts a kind's items in course order (unknown ones last, by id)."""
        if not self.order:
            self.order.update((key, index) for index, key in enumerate(self.names))
        return self.order.get((kind, resource_id), len(self.order)), resource_id

    def video(self, video_id: str) -> Name:
        """A video's name, by the id its events use."""
        return self.name("video", video_id)

    def event(self, name: str, object_id: str | None, kind: str) -> tuple[Name, Shown | None]:
        """An event in plain words, and what it touched as shown (its video or problem; `kind`
        as the rollups give it), if anything. A page view says which page it opened."""
        if object_id is not None:
            return event_words(name), self.shown(kind, object_id)
        page = courseware_page(name) if name.startswith("/") else None
        return event_words(name, self.name("page", page) if page else None), None


def _course_order(blocks: list[tuple[str, str, str | None, int | None]]) -> list[str]:
    """Block ids in course order: depth first from the root, children by their position."""
    ids = {block_id for block_id, _t, _p, _n in blocks}
    children: dict[str | None, list[tuple[int, str]]] = {}
    for block_id, block_type, parent, position in blocks:
        # A block whose parent is not known (or a course root) starts a tree of its own; course
        # roots first, then the others by id, so the order does not depend on the query's.
        top = parent is None or parent not in ids
        key = None if top else parent
        rank = (0 if block_type == "course" else 1) if top else (position or 0)
        children.setdefault(key, []).append((rank, block_id))
    order: list[str] = []
    stack = [block_id for _rank, block_id in sorted(children.get(None, []), reverse=True)]
    seen: set[str] = set()
    while stack:
        block_id = stack.pop()
        if block_id in seen:  # a child listed under two parents: its first place counts
            continue
        seen.add(block_id)
        order.append(block_id)
        stack.extend(b for _rank, b in sorted(children.get(block_id, []), reverse=True))
    return order


def build_names(
    blocks: Iterable[tuple[str, str, str, str | None, int | None]],
    seen: Iterable[tuple[str, str]],
    video_names: Mapping[str, str | None] | None = None,
) -> CourseNames:
    """Names for the ids events use, from the course's blocks (block id, type, display name,
    parent, position), the resources seen in order of first appearance ((kind, id)), and the
    videos' own names (Video.display_name).

    A block's display name names it; without one, "Video 3" counts the kind's blocks in course
    order, and ids no block holds follow in order of first appearance.
    """
    rows = list(blocks)
    by_id = {block_id: (block_type, name) for block_id, block_type, name, _p, _n in rows}
    by_url_name: dict[str, str] = {}
    for block_id in by_id:
        by_url_name.setdefault(url_name(block_id), block_id)
    order = _course_order([(b, t, p, n) for b, t, _name, p, n in rows])
    result = CourseNames()
    counts: dict[str, int] = {}
    numbered: dict[str, int] = {}  # block id -> its number among its kind's blocks
    for block_id in order:
        block_type = by_id[block_id][0]
        for kind, types in KIND_BLOCK_TYPES.items():
            if block_type in types:
                counts[kind] = counts.get(kind, 0) + 1
                numbered[block_id] = counts[kind]
    videos = video_names or {}
    wanted: list[tuple[str, str]] = []
    for kind, types in KIND_BLOCK_TYPES.items():
        for block_id in order:
            if by_id[block_id][0] in types:
                wanted.append((kind, block_id if kind == "problem" else url_name(block_id)))
    wanted.extend((kind, resource_id) for kind, resource_id in seen)
    wanted.extend(("video", video_id) for video_id in videos)
    for kind, resource_id in wanted:
        key = (kind, resource_id)
        if key in result.names:
            continue
        block = resource_id if resource_id in by_id else by_url_name.get(url_name(resource_id))
        block_type, name = by_id[block] if block is not None else ("", "")
        name = name.strip()
        if not name and kind == "video":
            name = (videos.get(resource_id) or "").strip()
        if name:
            result.names[key] = name
            result.known.add(key)
            continue
        # A block of the kind has its number in course order; other ids come after the blocks.
        number = None
        if block is not None and block_type in KIND_BLOCK_TYPES.get(kind, ()):
            number = numbered.get(block)
        if number is None:
            counts[kind] = counts.get(kind, 0) + 1
            number = counts[kind]
        result.names[key] = lazy_gettext(
            KIND_LABELS.get(kind, KIND_LABELS["activity"]), number=number
        )
    return result


def course_names(
    session: DbSession, course: Course, seen: Sequence[Sequence[str]] | None = None
) -> CourseNames:
    """The names of a course's videos, problems and pages (see build_names); `seen` is
    seen_resources's answer when the caller keeps it (lti_tool.kpis.course_summary)."""
    blocks = session.execute(
        select(
            CourseBlock.block_id,
            CourseBlock.block_type,
            CourseBlock.display_name,
            CourseBlock.parent_id,
            CourseBlock.position,
        ).where(CourseBlock.course_id == course.id)
    ).tuples()
    order = [
        (kind, rid) for kind, rid in (seen if seen is not None else seen_resources(session, course))
    ]
    videos = dict(
        session.execute(
            select(Video.video_id, Video.display_name)
            .where(Video.course_id == course.id)
            .order_by(Video.video_id)
        )
        .tuples()
        .all()
    )
    return build_names(blocks, order, videos)


def seen_resources(session: DbSession, course: Course) -> list[tuple[str, str]]:
    """The course's resources (kind, id) in the order learners first met them, then videos
    viewed without a resource row (older data) by id: the order unnamed ones are numbered in."""
    return seen_order(first_seen(session, course), video_viewers(session, course))


def seen_order(
    first: Mapping[tuple[str, str], float], viewed: Iterable[str]
) -> list[tuple[str, str]]:
    """seen_resources from when each (kind, id) was first met (first_seen) and the videos
    viewed."""
    seen = [key for key, _at in sorted(first.items(), key=lambda item: (item[1], *item[0]))]
    seen.extend(("video", video_id) for video_id in sorted(viewed))
    return seen


def first_seen(
    session: DbSession, course: Course, resource_ids: Sequence[str] | None = None
) -> dict[tuple[str, str], float]:
    """Per (kind, resource id): when a learner of the course first met it (of some resources,
    when given)."""
    query = (
        select(
            LearnerResource.kind, LearnerResource.resource_id, func.min(LearnerResource.first_time)
        )
        .where(LearnerResource.course_id == course.id)
        .group_by(LearnerResource.kind, LearnerResource.resource_id)
    )
    if resource_ids is not None:
        query = query.where(LearnerResource.resource_id.in_(resource_ids))
    return {(kind, rid): at for kind, rid, at in session.execute(query).tuples()}


def video_viewers(session: DbSession, course: Course) -> Counter[str]:
    """Per video: the learners of the course who viewed it."""
    found = session.execute(
        select(VideoLearnerViews.video_id, func.count())
        .where(VideoLearnerViews.course_id == course.id)
        .group_by(VideoLearnerViews.video_id)
    ).tuples()
    return Counter(dict(found.all()))


def module_name(name: str, number: int) -> Name:
    """A module's name, else "Module <number>" (its place in the course, in the language of
    where it is shown)."""
    return name.strip() or lazy_gettext("Module %(number)s", number=number)


def assignment_name(name: str | None, number: int) -> Name:
    """An assignment's name, else "Assignment <number>" (its place in the course's list, in the
    language of where it is shown)."""
    return (name or "").strip() or lazy_gettext("Assignment %(number)s", number=number)
