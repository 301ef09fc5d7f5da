"""Summary tables: what the pages show, written once per change of a course's data
(lti_tool.kpis.learner_summary writes and reads them)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lti_tool.extensions import Model
from lti_tool.models.types import UTCDateTime

# Sort keys compare as Python compares str (by code point) on every database: PostgreSQL's
# default collation would order "Émile", "eve" and "Zoë" by its locale's rules instead.
SortText = Text().with_variant(Text(collation="C"), "postgresql")
# Columns the learners table sorts on, each indexed in the table's order (then the name and the
# person, the tie-breaks) with the ranks it filters on after them: a page, filtered or not, is
# read from one index alone, in order, however many learners the course has.
SORTED = (
    "name_key",
    "sections_key",
    "last_active",
    "time_7d",
    "time_total",
    "sessions",
    "videos_watched",
    "completion",
    "current_score",
    "segment_rank",
    "risk_rank",
)
FILTERED = ("risk_rank", "segment_rank")


class LearnerSummary(Model):
    """One learner's row of the learners table and the `learners` report, as of the course's
    data and day recorded in learner_summary_state.

    `sections` and `reasons` are JSON text (the reasons as lti_tool.i18n.stored.encode
    writes them, translated when shown); the *_key and *_rank columns are what the table sorts
    on (the name and sections casefolded, the segment's rank by its English name, the risk
    level's rank: 2 high, 1 watch, 0 none); `search` is the name, e-mail and learner id
    casefolded, what the search box looks in.
    """

    __tablename__ = "learner_summary"
    __table_args__ = (
        *(
            Index(
                f"ix_learner_summary_{column}",
                "course_id",
                column,
                *(["name_key"] if column != "name_key" else []),
                "person_id",
                *(other for other in FILTERED if other != column),
            )
            for column in SORTED
        ),
    )

    course_id: Mapped[int] = mapped_column(
        ForeignKey("course.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), primary_key=True
    )
    learner: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    name_key: Mapped[str] = mapped_column(SortText)
    email: Mapped[str | None] = mapped_column(Text)
    sections: Mapped[str] = mapped_column(Text)
    sections_key: Mapped[str | None] = mapped_column(SortText)
    search: Mapped[str] = mapped_column(Text)
    last_active: Mapped[str | None] = mapped_column(SortText)  # ISO, as the report gives it
    time_7d: Mapped[int] = mapped_column(Integer)
    time_total: Mapped[int] = mapped_column(Integer)
    lms_activity_seconds: Mapped[int | None] = mapped_column(Integer)
    sessions: Mapped[int] = mapped_column(Integer)
    videos_watched: Mapped[int] = mapped_column(Integer)
    completion: Mapped[float | None] = mapped_column(Float(precision=53))
    current_score: Mapped[float | None] = mapped_column(Float(precision=53))
    posted_current_score: Mapped[float | None] = mapped_column(Float(precision=53))
    segment: Mapped[str | None] = mapped_column(String(20))
    segment_rank: Mapped[int | None] = mapped_column(Integer)
    risk_level: Mapped[str] = mapped_column(String(10))
    risk_rank: Mapped[int] = mapped_column(Integer)
    reasons: Mapped[str] = mapped_column(Text)


class LearnerSummaryState(Model):
    """What a course's learner_summary rows were computed from: the fingerprint of its data,
    settings and day (lti_tool.kpis.learner_summary.fingerprint), and when."""

    __tablename__ = "learner_summary_state"

    course_id: Mapped[int] = mapped_column(
        ForeignKey("course.id", ondelete="CASCADE"), primary_key=True
    )
    fingerprint: Mapped[str] = mapped_column(String(64))
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    learners: Mapped[int] = mapped_column(Integer)
    anyone_at_risk: Mapped[int] = mapped_column(Integer)
    # When a write last left the rows behind without rewriting them (mark_stale): the refresh
    # job's and the next reader's cue. NULL when current.
    stale_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # What the learner_activity rows written with them are of (JSON: the course's activity
    # mark, the time cutoff, the course's day); NULL when none were written.
    activity: Mapped[str | None] = mapped_column(Text)
    # The digest of what every row was measured against besides the learner's own figures
    # (lti_tool.kpis.learner_summary.measures: the class's thresholds, the course's day,
    # settings, roster and syncs); NULL when written by a version without it.
    measures: Mapped[str | None] = mapped_column(String(64))
    # While stale (stale_at): the learners a write showed otherwise since (a JSON list of
    # person ids: their names, their figures unchanged), NULL when it was stale for reasons
    # unknown (the next refresh writes every row).
    renamed: Mapped[str | None] = mapped_column(Text)
    # The class's little-time threshold the rows were assessed with (seconds; NULL without
    # one): left out of `measures`, as it moves with nearly every ingest, and compared alone
    # (lti_tool.kpis.at_risk.time_reason_moved says whose rows its move changes).
    time_limit: Mapped[float | None] = mapped_column(Float(precision=53))
    # While small writes (event-API and xAPI batches) are carried to the next refresh: the
    # course's activity mark before the first of them and after the last (their learners'
    # rows as they were are kept in `carried_rows`); NULL when none are.
    carried_from: Mapped[str | None] = mapped_column(String(64))
    carried_to: Mapped[str | None] = mapped_column(String(64))


class LearnerActivity(Model):
    """A learner's activity totals as the learner summary's last refresh added them up from
    their learner-days (lti_tool.kpis.learner_activity): JSON text, kept so that the next
    refresh reads them again for every learner whose days did not change since, rather than
    every learner-day of the class."""

    __tablename__ = "learner_activity"

    course_id: Mapped[int] = mapped_column(
        ForeignKey("course.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), primary_key=True
    )
    totals: Mapped[str] = mapped_column(Text)


class ClassSpread(Model):
    """One part of a course's class spread (lti_tool.kpis.class_spread): the sorted values
    its thresholds, segment cuts and weekly quartiles are taken of, packed, kept beside the
    learners' kept totals so that a refresh after a change of a few learners moves theirs."""

    __tablename__ = "class_spread"

    course_id: Mapped[int] = mapped_column(
        ForeignKey("course.id", ondelete="CASCADE"), primary_key=True
    )
    part: Mapped[str] = mapped_column(String(40), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class CourseSummary(Model):
    """A course's class figures as the overview and the student page read them (weekly
    counts and quartiles, the cards, the at-risk counts, the class's completion shares and
    posted scores), JSON text written with the learner summary (lti_tool.kpis.course_summary)
    from the data whose fingerprint it keeps."""

    __tablename__ = "course_summary"

    course_id: Mapped[int] = mapped_column(
        ForeignKey("course.id", ondelete="CASCADE"), primary_key=True
    )
    fingerprint: Mapped[str] = mapped_column(String(64))
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    figures: Mapped[str] = mapped_column(Text)


class PageSummary(Model):
    """One page's whole-class figures for a course (the videos page's summary, timeline and
    viewers, the typical learner's videos), JSON text written with the course summary
    (lti_tool.kpis.page_summary) from the data whose fingerprint it keeps."""

    __tablename__ = "page_summary"

    course_id: Mapped[int] = mapped_column(
        ForeignKey("course.id", ondelete="CASCADE"), primary_key=True
    )
    page: Mapped[str] = mapped_column(String(40), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    figures: Mapped[str] = mapped_column(Text)
    # The digest of what the figures are computed from (lti_tool.kpis.page_summary.inputs):
    # a refresh that moved the fingerprint but not this keeps them.
    inputs: Mapped[str] = mapped_column(String(64), server_default="")


class CarriedRows(Model):
    """One learner's rollup rows as they were before the small writes carried to the next
    refresh first replaced them (lti_tool.activity.replaced.packed): what that refresh takes
    out of the class's sums and counts again, as an ingest's own commit does."""

    __tablename__ = "carried_rows"

    course_id: Mapped[int] = mapped_column(
        ForeignKey("course.id", ondelete="CASCADE"), primary_key=True
    )
    # No foreign key: a merge deletes the person whose rows it carries (they leave the sums).
    person_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rows: Mapped[str] = mapped_column(Text)
