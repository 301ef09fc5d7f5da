"""A course's settings with their defaults, and the checks a change must pass."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from lti_tool.activity.rollups import week_start
from lti_tool.i18n import LANGUAGES
from lti_tool.i18n.text import N_, gettext
from lti_tool.models import Course, CourseSettings
from lti_tool.models.course import STUDENT_VIEWS
from lti_tool.models.types import DbSession

#: The privacy floor (figures about other learners hidden in smaller groups) can be raised,
#: never lowered below this.
MIN_PRIVACY_FLOOR = 5
#: The student views as the settings page names them (translated where shown).
STUDENT_VIEW_NAMES = {
    "time": N_("Time per week beside the class"),
    "calendar": N_("Activity calendar"),
    "videos": N_("Video coverage"),
    "completion": N_("Completion beside the class"),
    "grades": N_("Current score beside the class distribution"),
    "due": N_("Upcoming due items"),
}


@dataclass(frozen=True)
class Settings:
    """The settings a course's figures use (the defaults when staff never saved any)."""

    time_zone: str = "UTC"
    # The pages' default language (lti_tool.i18n.LANGUAGES), None: the browser's.
    language: str | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    time_cutoff_minutes: int = 30
    privacy_floor: int = MIN_PRIVACY_FLOOR
    risk_inactive_days: int = 7
    risk_time_percentile: int = 15
    risk_completion_behind: int = 2
    risk_pass_mark: float | None = None
    student_views: tuple[str, ...] = field(default=STUDENT_VIEWS)

    @property
    def zone(self) -> ZoneInfo:
        """The course time zone."""
        return ZoneInfo(self.time_zone)

    def today(self, now: datetime) -> date:
        """The day it is in the course time zone at an aware instant."""
        return now.astimezone(self.zone).date()

    def week_number(self, day: date | str) -> int | None:
        """ "Week N of the course" of a day (weeks start on Monday), or None without a start."""
        if self.starts_on is None:
            return None
        when = date.fromisoformat(day) if isinstance(day, str) else day
        return (week_start(when) - week_start(self.starts_on)).days // 7 + 1

    def shows(self, view: str) -> bool:
        """True when a student view is switched on."""
        return view in self.student_views


def load(session: DbSession, course: Course) -> Settings:
    """The course's settings, defaults filled in; a stored floor below 5 still reads as 5."""
    return settings_of(session.get(CourseSettings, course.id))


def settings_of(row: Any) -> Settings:
    """load's Settings of a stored row (a CourseSettings, or a row of its columns), None:
    the defaults."""
    if row is None:
        return Settings()
    try:
        ZoneInfo(row.time_zone)
        zone = row.time_zone
    except (ZoneInfoNotFoundError, ValueError):
        zone = "UTC"  # a zone removed from the tz database since it was saved
    return Settings(
        time_zone=zone,
        language=row.language if row.language in LANGUAGES else None,
        starts_on=row.starts_on,
        ends_on=row.ends_on,
        time_cutoff_minutes=max(1, row.time_cutoff_minutes or 30),
        privacy_floor=max(MIN_PRIVACY_FLOOR, row.privacy_floor or MIN_PRIVACY_FLOOR),
        risk_inactive_days=row.risk_inactive_days,
        risk_time_percentile=row.risk_time_percentile,
        risk_completion_behind=row.risk_completion_behind,
        risk_pass_mark=row.risk_pass_mark,
        student_views=tuple(v for v in STUDENT_VIEWS if v in (row.student_views or [])),
    )


class SettingsError(ValueError):
    """Submitted settings that cannot be saved; `errors` maps each field to what is wrong (in
    the language of the page being made, English elsewhere)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _whole(
    form: dict[str, Any], name: str, label: str, low: int, high: int, errors: dict[str, str]
) -> int | None:
    raw = str(form.get(name, "")).strip()
    if not raw.lstrip("-").isdigit():
        errors[name] = gettext(
            "%(field)s must be a whole number between %(low)d and %(high)d.",
            field=gettext(label),
            low=low,
            high=high,
        )
        return None
    value = int(raw)
    if not low <= value <= high:
        errors[name] = gettext(
            "%(field)s must be between %(low)d and %(high)d (got %(value)d).",
            field=gettext(label),
            low=low,
            high=high,
            value=value,
        )
        return None
    return value


def _day(form: dict[str, Any], name: str, errors: dict[str, str]) -> date | None:
    """A date field of the form (YYYY-MM-DD), None when empty; a wrong one goes to errors."""
    raw = str(form.get(name, "")).strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[name] = gettext("%(value)s is not a date (YYYY-MM-DD).", value=repr(raw))
        return None


def parse(form: dict[str, Any], views: list[str]) -> Settings:
    """Settings from a submitted form; SettingsError lists every field that is wrong."""
    errors: dict[str, str] = {}
    zone = str(form.get("time_zone", "")).strip()
    if zone not in available_timezones():
        errors["time_zone"] = gettext(
            "%(value)s is not a time zone of the IANA database; use a name such as "
            "Europe/Paris or America/New_York (or UTC).",
            value=repr(zone),
        )
    language = str(form.get("language", "")).strip() or None
    if language is not None and language not in LANGUAGES:
        errors["language"] = gettext(
            "%(value)s is not a language the pages come in.", value=repr(language)
        )
    starts_on = _day(form, "starts_on", errors)
    ends_on = _day(form, "ends_on", errors)
    if starts_on and ends_on and ends_on < starts_on:
        errors["ends_on"] = gettext("The course cannot end before it starts.")
    cutoff = _whole(form, "time_cutoff_minutes", N_("The time-spent cutoff"), 1, 240, errors)
    floor_raw = str(form.get("privacy_floor", "")).strip()
    floor = None
    if floor_raw.lstrip("-").isdigit() and int(floor_raw) < MIN_PRIVACY_FLOOR:
        errors["privacy_floor"] = gettext(
            "The privacy floor cannot be below %(floor)d (got %(value)d): smaller groups would "
            "let students work out one classmate's figures.",
            floor=MIN_PRIVACY_FLOOR,
            value=int(floor_raw),
        )
    else:
        floor = _whole(
            form, "privacy_floor", N_("The privacy floor"), MIN_PRIVACY_FLOOR, 1000, errors
        )
    inactive = _whole(form, "risk_inactive_days", N_("Days without activity"), 1, 365, errors)
    percentile = _whole(form, "risk_time_percentile", N_("The time percentile"), 0, 50, errors)
    behind = _whole(form, "risk_completion_behind", N_("Items behind the median"), 0, 1000, errors)
    pass_mark = None
    raw_pass = str(form.get("risk_pass_mark", "")).strip()
    if raw_pass:
        try:
            pass_mark = float(raw_pass.replace(",", "."))  # a decimal comma too (es, nb)
            if not 0 <= pass_mark <= 100:
                raise ValueError
        except ValueError:
            errors["risk_pass_mark"] = gettext(
                "The pass mark is a percentage between 0 and 100, or empty (got %(value)s).",
                value=repr(raw_pass),
            )
    unknown = [v for v in views if v not in STUDENT_VIEWS]
    if unknown:
        errors["student_views"] = gettext(
            "Unknown student views: %(views)s.", views=", ".join(unknown)
        )
    if errors:
        raise SettingsError(errors)
    assert cutoff is not None and floor is not None and inactive is not None
    assert percentile is not None and behind is not None
    return Settings(
        time_zone=zone,
        language=language,
        starts_on=starts_on,
        ends_on=ends_on,
        time_cutoff_minutes=cutoff,
        privacy_floor=floor,
        risk_inactive_days=inactive,
        risk_time_percentile=percentile,
        risk_completion_behind=behind,
        risk_pass_mark=pass_mark,
        student_views=tuple(v for v in STUDENT_VIEWS if v in views),
    )


def save(session: DbSession, course: Course, settings: Settings) -> None:
    """Store a course's settings (the caller commits)."""
    row = session.get(CourseSettings, course.id)
    if row is None:
        row = CourseSettings(course_id=course.id)
        session.add(row)
    values = asdict(settings)
    values["student_views"] = list(settings.student_views)
    for name, value in values.items():
        setattr(row, name, value)
