"""Staff pages about learners: the learners table (filters, CSV, e-mail), the access log, and
one learner's page. Every view of contact details is written to the access log."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, TypeVar
from urllib.parse import quote

from babel.numbers import format_decimal
from flask import Response, abort, g, redirect, render_template, request, url_for
from markupsafe import Markup, escape
from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import aliased
from werkzeug.wrappers import Response as BaseResponse

from lti_tool.activity.sql import run
from lti_tool.config import setting
from lti_tool.extensions import db
from lti_tool.i18n import DEFAULT, formats
from lti_tool.i18n.text import N_
from lti_tool.i18n.text import gettext as _
from lti_tool.i18n.web import page_language
from lti_tool.kpis import (
    completion,
    course_summary,
    grades,
    learner_summary,
    names,
    page_summary,
    video_engagement,
)
from lti_tool.kpis import learners as learners_kpi
from lti_tool.kpis.at_risk import LEVEL_NAMES, level_rank
from lti_tool.kpis.engagement import SEGMENT_NAMES
from lti_tool.kpis.reports import to_csv
from lti_tool.kpis.roster import not_on_roster, percentile, pseudonym
from lti_tool.launch.identity import staff_required
from lti_tool.models import (
    AccessLog,
    Course,
    Person,
    SyncRun,
)
from lti_tool.models.sync import SUCCEEDED
from lti_tool.people.pseudonyms import pseudonym_key
from lti_tool.query_args import is_digits, page_arg
from lti_tool.views import charts as charts_mod
from lti_tool.views import preferences
from lti_tool.views.cache import course_cached, request_marks
from lti_tool.views.course import _course, bp, course_names, named, video_rows
from lti_tool.views.links import id_links

PER_PAGE = (25, 50, 100, 200)
SORTS = {
    "name": N_("Name"),
    "sections": N_("Section"),
    "last_active": N_("Last active"),
    "time_7d": N_("Time, 7 days"),
    "time_total": N_("Time, total"),
    "sessions": N_("Sessions"),
    "videos_watched": N_("Videos watched"),
    "completion": N_("Completion"),
    "current_score": N_("Current score"),
    "segment": N_("Segment (last week)"),
    "at_risk": N_("At risk"),
}
# Columns first sorted A to Z; the others (figures) largest first.
ASCENDING = ("name", "sections", "segment")
# The table's columns in page order: (key, header, sort key or None). The first six always show
# (they fit a 1000 px LMS frame); the others only when chosen (OPTIONAL, the column chooser).
COLUMNS = (
    ("name", N_("Name"), "name"),
    ("at_risk", N_("At risk"), "at_risk"),
    ("last_active", N_("Last active"), "last_active"),
    ("time_7d", N_("Time, 7 days (h:mm)"), "time_7d"),
    ("completion", N_("Completion"), "completion"),
    ("current_score", N_("Current score"), "current_score"),
    ("email", N_("E-mail"), None),
    ("sections", N_("Section"), "sections"),
    ("time_total", N_("Time, total (h:mm)"), "time_total"),
    ("lms_time", N_("LMS time (h:mm)"), None),
    ("sessions", N_("Sessions"), "sessions"),
    ("videos_watched", N_("Videos watched"), "videos_watched"),
    ("segment", N_("Segment (last week)"), "segment"),
)
OPTIONAL = ("email", "sections", "time_total", "lms_time", "sessions", "videos_watched", "segment")
# view_preference.view of the chosen optional columns.
COLUMNS_VIEW = "learners.columns"
# The order when nobody chose one and someone is at risk: high first, then watch, then the
# others; by name within each.
RISK_FIRST = learner_summary.RISK_FIRST
_T = TypeVar("_T")
#: SUMMARY_INLINE_LEARNERS' default: a summary of 5,000 learners is written in about half a
#: second, so the page can wait for it; beyond, the scheduler's job writes it.
INLINE_LEARNERS = 5000
# Longer mailto: URLs are cut off by some mail programs and browsers.
MAILTO_LIMIT = 1800
EMAIL_FIELDS = ("name", "email", "learner", "sections")
# The access log's actions (AccessLog.action, a code) as the page says them.
ACTIONS = {
    "contact_details": N_("Viewed contact details"),
    "learner_page": N_("Opened a learner's page"),
    "learners_csv": N_("Exported learners as CSV"),
    "email_addresses": N_("Gathered e-mail addresses"),
    "student_view_preview": N_("Previewed a learner's own page"),
}


def viewer_label() -> str:
    """How the access log names the staff member looking."""
    person = db.session.get(Person, g.viewer.person_id)
    if person is None:
        return f"person {g.viewer.person_id}"
    return " ".join(p for p in (person.name, f"<{person.email}>" if person.email else None) if p)


def record_access(course: Course, action: str, subject: int | None, subjects: int) -> None:
    """Write one access-log row (committed by the caller)."""
    db.session.add(
        AccessLog(
            course_id=course.id,
            viewer_person_id=g.viewer.person_id,
            viewer_label=viewer_label()[:400],
            action=action,
            subject_person_id=subject,
            subjects=subjects,
        )
    )


def filters_from(args: Any) -> dict[str, str]:
    """The table's filters as asked, with unknown values dropped."""
    segment = args.get("segment", "")
    return {
        "q": args.get("q", "").strip()[:200],
        "section": args.get("section", "")[:500],
        "segment": segment if segment in SEGMENT_NAMES else "",
        "risk": "1" if args.get("risk") == "1" else "",
        "level": level if (level := args.get("level", "")) in LEVEL_NAMES else "",
    }


def apply_filters(rows: list[dict[str, Any]], filters: dict[str, str]) -> list[dict[str, Any]]:
    """The rows that pass the section, segment, at-risk (any level, or one), search filters."""
    if not any(filters.values()):
        return rows
    needle = filters["q"].casefold()
    kept = []
    for row in rows:
        if filters["section"] and filters["section"] not in row["sections"]:
            continue
        if filters["segment"] and row["segment"] != filters["segment"]:
            continue
        if filters["risk"] and not row["at_risk"]:
            continue
        if filters.get("level") and row["risk_level"] != filters["level"]:
            continue
        if needle:
            hay = " ".join(str(row[k] or "") for k in ("name", "email", "learner")).casefold()
            if needle not in hay:
                continue
        kept.append(row)
    return kept


def sort_rows(rows: list[dict[str, Any]], key: str, descending: bool) -> list[dict[str, Any]]:
    """Rows sorted on a column; empty values last in either direction."""

    def value(row: dict[str, Any]) -> Any:
        found = row[key]
        if key == "name":
            return found.casefold()
        if key == "sections":
            return "; ".join(found).casefold() if found else None
        if key == "segment":
            # By the English name: the sorted order is kept for every viewer (ClassRows).
            named = SEGMENT_NAMES.get(found or "")
            return named.message if named is not None else None
        if key == "at_risk":
            return level_rank(row["risk_level"])  # high above watch above none
        return found

    present = [r for r in rows if value(r) is not None]
    empty = [r for r in rows if value(r) is None]
    present.sort(key=lambda r: (value(r), r["name"].casefold()), reverse=descending)
    return present + empty


def risk_first(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Learners at risk first, high before watch, then the others; each group by name."""
    return sorted(rows, key=lambda r: (-level_rank(r["risk_level"]), r["name"].casefold()))


def chosen_columns(course: Course) -> list[str]:
    """The optional columns the viewer chose to see on this course's learners table (none by
    default), in page order."""
    kept = preferences.load(course.id, g.viewer.person_id, COLUMNS_VIEW)
    wanted = set(kept) if isinstance(kept, list) else set()
    return [key for key in OPTIONAL if key in wanted]


def page_params(args: Any) -> dict[str, Any]:
    """The learners page's parameters as asked (filters, sort, direction, per page, page),
    unknown values dropped and empty ones left out."""
    sort = args.get("sort", "")
    per = _positive(args.get("per"), 50)
    page = args.get("page", "")
    params = {
        **filters_from(args),
        "sort": sort if sort in SORTS else "",
        "dir": "desc" if args.get("dir") == "desc" else "",
        "per": per if per in PER_PAGE else 50,
        "page": int(page) if is_digits(page) and len(page) < 7 and int(page) > 1 else "",
    }
    return {k: v for k, v in params.items() if v not in ("", None)}


class ClassRows(list[dict[str, Any]]):
    """The learners table's rows of a whole class, with the orders they have been sorted in.

    The rows are reused across requests while the data holds (course_cached), so each order is
    sorted once and then only filtered and paged: a class of 10,000 is not sorted per request.
    """

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        super().__init__(rows)
        self._orders: dict[tuple[str, bool], list[dict[str, Any]]] = {}
        self._sections: list[str] | None = None
        self._people: dict[str, set[int]] = {}
        self._anyone_at_risk: bool | None = None

    def sorted_by(self, key: str, descending: bool) -> list[dict[str, Any]]:
        """The rows sorted on a column (see sort_rows), or at-risk first (RISK_FIRST)."""
        found = self._orders.get((key, descending))
        if found is None:
            if key == RISK_FIRST:
                found = risk_first(self)
            else:
                found = sort_rows(self, key, descending)
            self._orders[(key, descending)] = found
        return found

    def anyone_at_risk(self) -> bool:
        """Whether any learner of the class is flagged at risk (looked up once)."""
        if self._anyone_at_risk is None:
            self._anyone_at_risk = any(row["at_risk"] for row in self)
        return self._anyone_at_risk

    def sections(self) -> list[str]:
        """Every section a learner of the class is in, in name order."""
        if self._sections is None:
            self._sections = sorted({s for row in self for s in row["sections"]})
        return self._sections

    def people(self, section: str = "") -> set[int]:
        """The person ids of the class, or of one section of it ("" for the whole class)."""
        found = self._people.get(section)
        if found is None:
            found = self._people[section] = {
                row["person"] for row in self if not section or section in row["sections"]
            }
        return found


def class_table(course: Course) -> tuple[learners_kpi.ClassData, ClassRows]:
    """The class data and the learners table's rows (see course_cached)."""

    def compute() -> tuple[learners_kpi.ClassData, ClassRows]:
        data = learners_kpi.class_data(db.session, course, key=pseudonym_key())
        return data, ClassRows(learners_kpi.learner_rows(data))

    return course_cached(course, "learners", compute)


def outside_roster(course: Course) -> list[dict[str, Any]]:
    """Who has activity in the course but is not on its roster (kpis.roster), reused while the
    data holds."""
    return course_cached(
        course, "not-on-roster", lambda: not_on_roster(db.session, course, pseudonym_key())
    )


def inline_up_to() -> int:
    """The most learners a course may have for a page to write its summary when it is behind
    (SUMMARY_INLINE_LEARNERS); a larger course's pages show it as last written meanwhile."""
    raw = setting("SUMMARY_INLINE_LEARNERS", str(INLINE_LEARNERS))
    return int(raw) if is_digits(raw) else INLINE_LEARNERS


def video_durations(course: Course) -> dict[str, float | None]:
    """Each video's settled duration (kpis.video_engagement), reused while the data holds."""
    return course_cached(
        course,
        "video-durations",
        lambda: video_engagement.settled_durations(db.session, course),
    )


def current_summary(course: Course) -> learner_summary.State:
    """The course's learner summary made current (committed: a refresh it had to make is then
    every worker's). While another process holds SQLite's write lock for longer than its busy
    timeout (a large ingest, which writes the summary itself as it commits), the rows as they
    were are shown rather than an error."""
    key = pseudonym_key()
    return _made_current(
        "learner_summary",
        course,
        lambda: learner_summary.current(
            db.session, course, key=key, inline_up_to=inline_up_to(), marks=request_marks(course)
        ),
        lambda: learner_summary.stored(db.session, course, key=key),
    )


def behind_since(course: Course) -> datetime | None:
    """learner_summary.behind_since, of the state this request made current when it did (a
    page asks several times)."""
    made = g.get("current_summaries", {}).get(("learner_summary", course.id))
    if made is not None:
        return made.behind_since  # type: ignore[no-any-return]
    return learner_summary.behind_since(db.session, course)


def class_figures(course: Course) -> course_summary.Figures:
    """The course's class figures and its learner summary made current (committed, as
    current_summary does); the figures as stored while another process holds SQLite's write
    lock, when there are any."""
    key = pseudonym_key()
    # The learner summary first, once a request (most pages read it too).
    state = current_summary(course)
    return _made_current(
        "course_summary",
        course,
        lambda: course_summary.current(
            db.session, course, key=key, inline_up_to=inline_up_to(), state=state
        ),
        lambda: course_summary.stored(db.session, course),
    )


def _made_current(
    name: str, course: Course, current: Callable[[], _T], stored: Callable[[], _T | None]
) -> _T:
    """current() committed, once a request for this course (a page reads the summaries several
    times, each check of them five queries, and within a request the pages write none of their
    inputs); while another process holds SQLite's write lock for longer than its busy timeout,
    stored() instead, when there is something stored (else the error)."""
    found: dict[tuple[str, int], Any] = g.setdefault("current_summaries", {})
    if (name, course.id) not in found:
        try:
            found[(name, course.id)] = current()
            commit_keeping_loaded()
        except OperationalError:
            db.session.rollback()
            kept = stored()
            if kept is None:
                raise
            found[(name, course.id)] = kept
    result: _T = found[(name, course.id)]
    return result


def commit_keeping_loaded() -> None:
    """Commit without expiring what the request has loaded (its course, platform, settings):
    a summary's refresh writes none of them, and loading them again cost a page three
    queries."""
    session = db.session()
    kept = session.expire_on_commit
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = kept


def page_figures(course: Course, page: str) -> dict[str, Any]:
    """A page's whole-class figures (kpis.page_summary) with the course's summaries made
    current (committed, as class_figures does); computed here, not written, while another
    process holds SQLite's write lock."""
    class_figures(course)
    behind = behind_since(course)
    if behind is not None:
        # A large course's summaries are left to the scheduler's job: its pages as written,
        # parsed once per worker while they wait (the videos page's are megabytes of JSON at
        # 100,000 learners: parsed at every request, that page took 870 ms under load).
        written = course_cached(
            course,
            f"page-summary-{page}-as-of-{behind.isoformat()}",
            lambda: page_summary.stored(db.session, course, page, None),
        )
        if written is not None:
            return written
    # Parsed once per worker while the data holds (the videos page's figures are 2 MB of JSON
    # at 100,000 learners); they depend on the data alone, not on the day.
    return course_cached(course, f"page-summary-{page}", lambda: _page_figures(course, page))


def _page_figures(course: Course, page: str) -> dict[str, Any]:
    """page_figures read (or written) now."""
    try:
        found = page_summary.current(db.session, course, page, key=pseudonym_key())
        commit_keeping_loaded()
    except OperationalError:
        db.session.rollback()
        people = {person for person, _name in course_summary.members(db.session, course)}
        found = page_summary.figures_of(db.session, course, page, people)
    return found


def emails_hidden(course: Course) -> bool:
    """Whether the latest Canvas sync found that Canvas does not share e-mail addresses with
    the tool's API token (the sync records it on every run: see lti_tool.sync.canvas.run);
    kept while the data holds (a finished sync moves it)."""

    def hidden() -> bool:
        counts = run(db.session, _LATEST_CANVAS_COUNTS, course=course.id).scalar()
        return isinstance(counts, dict) and bool(counts.get("emails_hidden"))

    return course_cached(course, "emails-hidden", hidden)


_LATEST_CANVAS_COUNTS = (
    select(SyncRun.counts)
    .where(
        SyncRun.course_id == bindparam("course"),
        SyncRun.source == "canvas",
        SyncRun.status == SUCCEEDED,
    )
    .order_by(SyncRun.finished_at.desc(), SyncRun.id.desc())
    .limit(1)
)


def matched_count(course: Course, state: learner_summary.State, filters: dict[str, str]) -> int:
    """How many of the stored rows pass the filters, counted once per worker while the rows
    stay as they are (the data's fingerprint, and when shown behind it, when they were written):
    counting the at-risk of 100,000 rows was a fifth of the page's time."""
    return course_cached(
        course,
        f"learners-matched-{_rows_as(state)}-{sorted(filters.items())}",
        lambda: learner_summary.count(db.session, course, filters),
    )


def summary_sections(course: Course, state: learner_summary.State) -> list[str]:
    """The sections of the stored rows' learners (learner_summary.sections), read once per
    worker while the rows stay as they are."""
    return course_cached(
        course,
        f"learners-sections-{_rows_as(state)}",
        lambda: learner_summary.sections(db.session, course),
    )


def _rows_as(state: learner_summary.State) -> str:
    """What the stored rows are as of: the data's fingerprint, and when shown behind it, when
    they were written."""
    return f"{state.mark}-{state.behind_since}"


def _positive(raw: str | None, default: int) -> int:
    """A small positive number from the query (per page), else the default."""
    if not raw or not is_digits(raw) or len(raw) > 6:
        return default
    return int(raw) or default


@bp.get("/learners")
@staff_required
def learners(course_id: int) -> str:
    """The learners table: sort, filter, search, one page at a time."""
    course = _course(course_id)
    # The rows are the learner summary's: sorted, filtered and paged in the database.
    state = current_summary(course)
    filters = filters_from(request.args)
    sort = request.args.get("sort", "")
    sort = sort if sort in SORTS else ""
    descending = bool(sort) and request.args.get("dir") == "desc"
    per = _positive(request.args.get("per"), 50)
    per = per if per in PER_PAGE else 50
    # Nobody chose an order: those flagged at risk come first, the ones staff most need to see.
    risk_order = not sort and state.anyone_at_risk
    order = RISK_FIRST if risk_order else (sort or "name")
    # Unfiltered, the class's size as the summary's state keeps it: counting 100,000 rows per
    # request was a fifth of the page's time on PostgreSQL.
    filtered = any(filters.values())
    matched = matched_count(course, state, filters) if filtered else state.learners
    pages = max(1, math.ceil(matched / per))
    page = min(page_arg(), pages)
    page_rows = learner_summary.rows(
        db.session, course, filters, order, descending, offset=(page - 1) * per, limit=per
    )
    with_email = sum(1 for r in page_rows if r["email"])
    # Say why the e-mail cells are empty, rather than leave them blank without a reason.
    hidden = with_email < len(page_rows) and emails_hidden(course)
    if with_email:
        record_access(course, "contact_details", None, with_email)
        commit_keeping_loaded()
    sections = summary_sections(course, state)
    base = {**filters, "sort": sort, "dir": "desc" if descending else "", "per": per}
    # Any, not str: url_for's own keywords (_external: bool) would otherwise be checked against it.
    asked: dict[str, Any] = {k: v for k, v in filters.items() if v}

    def link(**changes: Any) -> str:
        """This page's URL with some parameters changed (empty ones left out)."""
        params = {k: v for k, v in {**base, "page": page, **changes}.items() if v not in ("", None)}
        return url_for("course.learners", course_id=course.id, t=g.session_token, **params)

    def sort_link(key: str) -> str:
        """The header link: the other direction on the sorted column, else its natural one."""
        if key == sort:
            return link(sort=key, dir="" if descending else "desc", page=1)
        return link(sort=key, dir="" if key in ASCENDING else "desc", page=1)

    segments = {key: str(name) for key, name in SEGMENT_NAMES.items()}
    levels = {key: str(name) for key, name in LEVEL_NAMES.items()}
    labels = {key: _(label) for key, label, _sort in COLUMNS}
    learner_link = id_links("course.learner", "person_id", course_id=course.id, t=g.session_token)
    return render_template(
        "course/learners.html",
        behind_since=state.behind_since,
        sort_link=sort_link,
        course=course,
        data=state,
        total=state.learners,
        rows=page_rows,
        table_rows=table_rows(page_rows, segments, levels, labels, learner_link, hidden),
        matched=matched,
        filters=filters,
        sections=sections,
        # Said on many rows: translated once.
        segments=segments,
        levels=levels,
        sort=sort or "name",
        sort_name=_(SORTS[sort or "name"]).lower(),
        sort_chosen=bool(sort),
        risk_order=risk_order,
        descending=descending,
        columns=[(key, _(label), sort_key) for key, label, sort_key in COLUMNS],
        optional=OPTIONAL,
        shown_columns=chosen_columns(course),
        here=page_params(request.args),
        page=page,
        pages=pages,
        per=per,
        per_options=PER_PAGE,
        link=link,
        csv_url=url_for(
            "course.learners_csv",
            course_id=course.id,
            t=g.session_token,
            **asked,
        ),
        cutoff=state.settings.time_cutoff_minutes,
        emails_hidden=hidden,
        outside=outside_roster(course),
    )


_DASH = "\u2013"  # a figure there is none of


def shown_cells(row: dict[str, Any], segments: dict[str, str]) -> dict[str, str]:
    """A learners table row's figures as the page's language writes them: written here rather
    than by the template's filters (50 to 200 rows of ten figures; a filter call costs more
    than the writing)."""
    language = page_language()
    completion, score = row["completion"], row["current_score"]
    return {
        "last_active": fmt_when(row["last_active"]),
        "time_7d": formats.duration(row["time_7d"], language),
        "completion": (
            _DASH if completion is None else formats.number(completion * 100, language) + " %"
        ),
        "current_score": _DASH if score is None else fmt_score(score) + " %",
        "sections": ", ".join(row["sections"]) or _DASH,
        "time_total": formats.duration(row["time_total"], language),
        "lms_time": formats.duration(row["lms_activity_seconds"], language),
        "sessions": formats.number(row["sessions"], language),
        "videos_watched": formats.number(row["videos_watched"], language),
        "segment": segments.get(row["segment"], _DASH),
    }


def table_rows(
    rows: list[dict[str, Any]],
    segments: dict[str, str],
    levels: dict[str, str],
    labels: dict[str, str],
    learner_link: Callable[[int], str],
    emails_hidden: bool,
) -> Markup:
    """The learners table's rows as HTML: written here (50 to 200 rows of thirteen cells, each
    with its column's name for the narrow screen's cards: the template's forty outputs a row
    were two thirds of the page's template)."""
    label = {key: escape(words) for key, words in labels.items()}
    no = escape(_("no"))
    no_email = Markup('<span class="muted">%s</span>') % (
        _("hidden by Canvas") if emails_hidden else _("not shared")
    )
    select = Markup(_("Select %(name)s"))  # noqa: S704 (a translation: ours, as in templates)
    written = []
    for r in rows:
        c = {key: escape(text) for key, text in shown_cells(r, segments).items()}
        level = escape(r["risk_level"])
        if r["at_risk"]:
            reasons = "".join(f"<li>{escape(reason)}</li>" for reason in r["at_risk_reasons"])
            risk = (
                f'<details class="risk-flag"><summary><span class="level level-{level}">'
                f'{escape(levels[r["risk_level"]])}</span> <span class="muted">'
                f'({len(r["at_risk_reasons"])})</span></summary><ul class="reasons">{reasons}'
                "</ul></details>"
            )
        else:
            risk = no
        email = r["email"]
        mail = f'<a href="{escape(mailto_href(email))}">{escape(email)}</a>' if email else no_email
        person = int(r["person"])
        row_class = f' class="risk risk-{level}"' if r["at_risk"] else ""
        written.append(
            f"<tr{row_class}>"
            f'<th scope="row" class="c-name" data-label="{label["name"]}">'
            f'<input type="checkbox" name="person" value="{person}" class="pick" '
            f'aria-label="{select % {"name": r["name"]}}"> '
            f'<a href="{escape(learner_link(person))}">{escape(r["name"])}</a></th>'
            f'<td class="c-at_risk" data-label="{label["at_risk"]}">{risk}</td>'
            + "".join(
                f'<td class="c-{key}" data-label="{label[key]}">{c[key]}</td>'
                for key in _FIGURES_BEFORE_EMAIL
            )
            + f'<td class="c-email" data-label="{label["email"]}">{mail}</td>'
            + "".join(
                f'<td class="c-{key}" data-label="{label[key]}">{c[key]}</td>'
                for key in _FIGURES_AFTER_EMAIL
            )
            + "</tr>"
        )
    return Markup("\n".join(written))  # noqa: S704 (every value escaped above)


# The table's figure columns (shown_cells), in the header's order, on either side of the
# e-mail's (the name and the risk flag come first).
_KEYS = [key for key, _label, _sort in COLUMNS]
_FIGURES_BEFORE_EMAIL = tuple(_KEYS[2 : _KEYS.index("email")])
_FIGURES_AFTER_EMAIL = tuple(_KEYS[_KEYS.index("email") + 1 :])


@bp.post("/learners/columns")
@staff_required
def learners_columns(course_id: int) -> BaseResponse:
    """Keep the optional columns the viewer chose; back to the table as it was (the script of
    the page sends quiet=1 and needs no page back)."""
    course = _course(course_id)
    wanted = set(request.form.getlist("show"))
    preferences.save(
        course.id, g.viewer.person_id, COLUMNS_VIEW, [k for k in OPTIONAL if k in wanted]
    )
    db.session.commit()
    if request.form.get("quiet") == "1":
        return Response(status=204)
    target = url_for(
        "course.learners", course_id=course.id, t=g.session_token, **page_params(request.form)
    )
    return redirect(target, code=303)


@bp.get("/learners.csv")
@staff_required
def learners_csv(course_id: int) -> Response:
    """The filtered rows as CSV (every column of the `learners` report)."""
    course = _course(course_id)
    current_summary(course)
    shown = learner_summary.rows(db.session, course, filters_from(request.args))
    record_access(course, "learners_csv", None, len(shown))
    db.session.commit()
    return Response(
        to_csv(shown, learners_kpi.FIELDS),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="learners-{course.id}.csv"'},
    )


def _chosen(course: Course) -> list[dict[str, Any]]:
    """The learners a POST names: ticked person ids, or every learner the filters match (by
    name)."""
    current_summary(course)
    if request.form.get("all") == "1":
        return learner_summary.rows(db.session, course, filters_from(request.form))
    wanted = {int(p) for p in request.form.getlist("person") if is_digits(p) and len(p) < 19}
    return learner_summary.rows(db.session, course, people=wanted)


def mailto_address(address: str) -> str:
    """One address percent-encoded for a mailto: URL."""
    # "?", "&", "," and "%" in an address would otherwise add headers (?cc=) or recipients.
    return quote(address, safe="@")


@bp.app_template_filter("mailto")
def mailto_href(address: str) -> str:
    """A mailto: URL writing to exactly this one address."""
    return "mailto:" + mailto_address(address)


def mailto_bcc(addresses: list[str]) -> str:
    """A mailto: URL with every address in BCC (so learners do not see each other)."""
    return "mailto:?bcc=" + ",".join(mailto_address(a) for a in addresses)


@bp.post("/learners/email")
@staff_required
def email_learners(course_id: int) -> str | Response:
    """Addresses of the chosen learners: a mailto: link when short enough, else a list to copy."""
    course = _course(course_id)
    chosen = _chosen(course)
    if not chosen:
        abort(400, description=_("No learners were selected: tick some rows, or use the filters."))
    return addresses_page(course, chosen)


def addresses_page(
    course: Course,
    chosen: list[dict[str, Any]],
    about: str = "",
    back: tuple[str, str] | None = None,
) -> str | Response:
    """The chosen learners' addresses (the request's `format=csv`: as CSV), their viewing
    written to the access log: what "E-mail the selected learners" and every "Message students
    who…" form give. `about` says who they are; `back` is the page they came from (its URL and
    link's words), the learners table by default."""
    with_email = [r for r in chosen if r["email"]]
    record_access(course, "email_addresses", None, len(with_email))
    db.session.commit()
    if request.form.get("format") == "csv":
        return Response(
            to_csv([{k: r[k] for k in EMAIL_FIELDS} for r in with_email], EMAIL_FIELDS),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="addresses-{course.id}.csv"'},
        )
    addresses = [r["email"] for r in with_email]
    mailto = mailto_bcc(addresses) if addresses else None
    return render_template(
        "course/email.html",
        course=course,
        chosen=chosen,
        addresses=addresses,
        without=[r for r in chosen if not r["email"]],
        mailto=mailto if mailto and len(mailto) <= MAILTO_LIMIT else None,
        too_long=bool(mailto and len(mailto) > MAILTO_LIMIT),
        people=[r["person"] for r in with_email],
        about=about,
        back=back
        or (
            url_for("course.learners", course_id=course.id, t=g.session_token),
            _("Back to the learners"),
        ),
    )


@bp.get("/access-log")
@staff_required
def access_log(course_id: int) -> str:
    """Who opened learners' contact details in this course, newest first."""
    course = _course(course_id)
    subject = aliased(Person)
    page = page_arg()
    per = 100
    total = (
        db.session.scalar(
            select(func.count()).select_from(AccessLog).where(AccessLog.course_id == course.id)
        )
        or 0
    )
    found = db.session.execute(
        select(AccessLog, subject)
        .outerjoin(subject, subject.id == AccessLog.subject_person_id)
        .where(AccessLog.course_id == course.id)
        .order_by(AccessLog.at.desc(), AccessLog.id.desc())
        .offset((page - 1) * per)
        .limit(per)
    ).all()
    key = pseudonym_key()
    entries = [
        (entry, (who.name or pseudonym(key, who.id)) if who is not None else None)
        for entry, who in found
    ]
    return render_template(
        "course/access_log.html",
        course=course,
        entries=entries,
        actions={code: _(words) for code, words in ACTIONS.items()},
        page=page,
        pages=max(1, math.ceil(total / per)),
    )


def fmt_when(value: str | datetime | None, seconds: bool = False) -> str:
    """An ISO time for tables: "YYYY-MM-DD HH:MM" in English, the date and time as the page's
    language writes them in the others (5/12/26, 15:39 · 05.12.2026, 15:39); the seconds too
    when asked."""
    if value is None:
        return _("never")
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    language = page_language()
    if language == DEFAULT:
        return when.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    shown = formats.moment(when, language)
    return shown + when.strftime(":%S") if seconds else shown


def fmt_day(value: date | str) -> str:
    """A day (or an ISO date) for tables: YYYY-MM-DD in English, as the page's language
    writes it otherwise."""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    language = page_language()
    return value.isoformat() if language == DEFAULT else formats.day(value, language)


def fmt_score(value: float) -> str:
    """A score or points, to at most two decimals (4.625 reads 4.62, 7.0 reads 7), with the
    page's language's decimal sign."""
    return format_decimal(round(value, 2), format="0.##", locale=formats.cldr(page_language()))


def _day_rows(days: list[dict[str, Any]]) -> Markup:
    """The daily activity table's rows (day, events, time, sessions), written here rather than
    by the template: a year of active days, four cells each, was a quarter of the page's time."""
    language = page_language()
    rows = [
        f"<tr><td>{escape(fmt_day(d['day']))}</td>"
        f"<td>{escape(formats.number(d['events'], language))}</td>"
        f"<td>{escape(formats.duration(d['seconds'], language))}</td>"
        f"<td>{escape(formats.number(d['sessions'], language))}</td></tr>"
        for d in days
    ]
    return Markup("".join(rows))  # noqa: S704 (every value escaped here)


def _event_rows(events: list[dict[str, Any]]) -> Markup:
    """The recent events table's rows (when, the event in words with its name in a tooltip,
    the source, the object by its name), written here as the days' are."""
    rows = [
        f"<tr><td>{escape(fmt_when(e['at'], seconds=True))}</td>"
        f'<td title="{escape(e["name"])}">{escape(names.sentence(e["words"]))}</td>'
        f"<td>{escape(e['source'])}</td>"
        f"<td>{named(e['thing']) if e['thing'] else ''}</td></tr>"
        for e in events
    ]
    return Markup("".join(rows))  # noqa: S704 (every value escaped here, names by named)


bp.add_app_template_filter(fmt_when, "when")
bp.add_app_template_filter(fmt_day, "isoday")
bp.add_app_template_filter(fmt_score, "score")


@bp.get("/learners/<int:person_id>")
@staff_required
def learner(course_id: int, person_id: int) -> str:
    """One learner: daily activity, sessions, videos, completion, scores beside the class."""
    course = _course(course_id)
    # The learner's row is the learner summary's (written once per change), not the class's
    # rows rebuilt by this worker.
    state = current_summary(course)
    found = learner_summary.rows(db.session, course, people={person_id})
    if not found:
        abort(404, description=_("This person is not a learner of this course."))
    row = found[0]
    settings = state.settings
    days = learners_kpi.learner_days(db.session, course, person_id, settings.time_cutoff_minutes)
    # Their own viewings only (the class's were read and then filtered: 3 s at 10,000).
    videos = video_engagement.learner_video(
        db.session, course, {person_id}, video_durations(course)
    )
    modules = [
        (names.module_name(m.name, number), m, progress)
        for number, (m, progress) in enumerate(
            completion.modules_of(db.session, course, person_id), 1
        )
    ]
    assignments = grades.assignments(db.session, course)
    # The class's scores for the bands beside theirs, read only when there is work to score.
    class_ids = learner_summary.member_ids(db.session, course) if assignments else set()
    submissions = grades.scores_by_assignment(db.session, course, class_ids)
    scores = []
    for assignment in assignments:
        subs = submissions.get(assignment.id, {})
        values = [s.score for s in subs.values() if s.score is not None and not s.excused]
        band = None
        if len(values) >= settings.privacy_floor:
            band = tuple(percentile(values, f) for f in (0.25, 0.5, 0.75))
        mine = subs.get(person_id)
        # This learner's own due date (a section or individual override), not the assignment's.
        due = grades.due_for(assignment, mine)
        scores.append((assignment, mine, band, len(values), due))
    events = learners_kpi.recent_events(db.session, course, person_id)
    known = course_names(course)
    videos.sort(key=lambda row: known.rank("video", row["video_id"]))
    for event in events:
        event["words"], event["thing"] = known.event(event["name"], event["object"], event["kind"])
    record_access(course, "learner_page", person_id, 1)
    commit_keeping_loaded()
    charts = []
    if days:
        figure = charts_mod.learner_days_figure(days, settings.time_cutoff_minutes, row["name"])
        charts.append(("learner-days", charts_mod.figure_json(figure)))
    return render_template(
        "course/learner.html",
        course=course,
        row=row,
        days=days,
        day_rows=_day_rows(days),
        videos=videos,
        video_rows=video_rows(videos, known, _("no")),
        modules=modules,
        scores=scores,
        events=events,
        event_rows=_event_rows(events),
        segments=SEGMENT_NAMES,
        levels=LEVEL_NAMES,
        charts=charts,
        floor=settings.privacy_floor,
        cutoff=settings.time_cutoff_minutes,
        time_zone=settings.time_zone,
        emails_hidden=not row["email"] and emails_hidden(course),
    )
