"""Where learners are: each learner's last known country in a course (never an address)."""

from __future__ import annotations

from sqlalchemy import Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from lti_tool.extensions import Model


class LearnerCountry(Model):
    """A learner's last known country in a course, as Open edX Insights counts it.

    The country of the network address of the learner's latest event in the course that carried
    one, found at ingest in an offline table (lti_tool.activity.countries). The address itself is
    never stored. `country_code` is ISO 3166-1 alpha-2, or None when the address is in no
    country's range (private, reserved or unassigned: Insights' "UNKNOWN").
    """

    __tablename__ = "learner_country"
    # Small rows found by their key: one B-tree on SQLite (see models.activity).
    __table_args__ = {"sqlite_with_rowid": False}

    course_id: Mapped[int] = mapped_column(
        ForeignKey("course.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    country_code: Mapped[str | None] = mapped_column(String(2))
    # Epoch seconds (UTC) of the event the country comes from: a later event replaces it, an
    # earlier or equal one (the same file read again) does not.
    seen_time: Mapped[float] = mapped_column(Float(precision=53))
