"""Writing learner events: resolve course and learner, store once, keep the rollups current.

Every source hands its events to an `EventSink`: the event API and xAPI one `IncomingEvent` at
a time, the tracking-log parser already reduced to block columns and grouped by learner and
day (`add_grouped`). The sink merges them into learner-day blocks (lti_tool.activity.blocks) in
bounded batches; `finish()` rebuilds the rollups of every learner it touched from their
blocks, so that late events update the learner-days they belong to and re-ingesting the same
data changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, text

from lti_tool.activity import rollups
from lti_tool.activity.blocks import (
    KEY,
    OBJECT_ID,
    VIDEO_DURATION,
    VIDEO_KIND,
    Columns,
    EventRow,
    append_row,
    empty,
    epoch_day,
    event_key,
    event_row,
    extend,
    note_video,
    write_blocks,
)
from lti_tool.activity.countries import write_countries
from lti_tool.activity.workers import Workers
from lti_tool.kpis import class_sums
from lti_tool.models import Course, Platform, Video
from lti_tool.models.types import DbSession
from lti_tool.people.linking import (
    Claim,
    HeldIdentities,
    emails_by_sha1,
    identity_owners,
    link_people,
)
from lti_tool.people.usernames import real_username

# Events held in memory before they are merged into the stored blocks: bounds memory, and
# is large enough that most blocks are written once per batch.
FLUSH_EVENTS = 50_000
# PostgreSQL advisory lock key that makes event writers take turns (ASCII "lti_api").
WRITER_LOCK = 0x6C74695F617069

# Events the log parser has reduced and grouped:
# (course key, identity kind, user key) -> (username, {epoch day: block columns}).
GroupedEvents = dict[tuple[str, str, str], tuple[str | None, dict[int, Columns]]]
# Learners keyed the same way -> (time, ISO country code) of their latest event with an address.
LastCountries = dict[tuple[str, str, str], tuple[float, str | None]]


def take_turn(session: DbSession) -> None:
    """Wait until no other event writer is at work, for the rest of this transaction.

    Two writers about the same learner (API workers, a log ingest) would both create the person
    or both rewrite the same blocks and rollup rows; on PostgreSQL a transaction-level
    advisory lock makes them take turns. SQLite serialises writers itself.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITER_LOCK})


@dataclass(slots=True)
class IncomingEvent:
    """One event as a source reports it, before the course and learner are resolved."""

    course_key: str  # the LMS's course id (Open edX course key, lab/xAPI course id)
    user_key: str  # the source's stable learner id (Open edX context.user_id, lab user, xAPI actor)
    identity_kind: str  # person_identity kind for user_key: openedx_user_id | lab_user | xapi_actor
    time: float  # epoch seconds UTC
    name: str
    source: str
    data: dict[str, Any]
    raw: bytes  # the event as received, for the idempotence key
    username: str | None = None
    course_id: int | None = None  # set when the source already knows the tool's course
    # The learner's e-mail, or the SHA-1 hex of it (xAPI mbox / mbox_sha1sum): links a learner
    # first seen here to the person with that e-mail on the platform (linking rule 2).
    email: str | None = None
    email_sha1: str | None = None


@dataclass(frozen=True, slots=True)
class _NewPerson:
    """A person a batch creates; `index` is their place among the batch's new people."""

    index: int


@dataclass(slots=True)
class _Pending:
    """An event added one by one, reduced to its row, waiting for its learner."""

    course_id: int | None
    course_key: str
    identity_kind: str
    user_key: str
    username: str | None
    email: str | None
    email_sha1: str | None
    day: int  # epoch day
    row: EventRow


@dataclass
class IngestCounts:
    """What a sink did."""

    received: int = 0
    stored: int = 0  # new events; received - stored were already known
    details_filled: int = 0  # known events that got the detail they lacked (a reprocess)
    learners: int = 0
    courses: int = 0


@dataclass
class EventSink:
    """Resolves, batches and stores events; rebuilds the touched learners' rollups on finish."""

    session: DbSession
    platform: Platform | None
    counts: IngestCounts = field(default_factory=IngestCounts)
    _courses: dict[str, int] = field(default_factory=dict)
    _people: dict[tuple[str, str], int] = field(default_factory=dict)
    # The learners of _people resolved with their username: nothing left to link for them.
    _named: set[tuple[str, str]] = field(default_factory=set)
    # Events added one by one, reduced to their rows (their data and raw bytes are not kept),
    # learners not resolved yet.
    _incoming: list[_Pending] = field(default_factory=list)
    # New events per (course, person, epoch day), not yet merged into the stored blocks.
    _blocks: dict[tuple[int, int, int], Columns] = field(default_factory=dict)
    _queued: int = 0
    # Per course: the videos the queued events name, with the longest duration they give.
    _videos_seen: dict[int, dict[str, float | None]] = field(default_factory=dict)
    # Per course: the videos stored and their durations, as far as this sink has looked.
    _videos: dict[int, dict[str, float | None]] = field(default_factory=dict)
    _touched: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    # Per learner as the log parser names them: the (time, country) of their latest event with
    # an address, written by finish (lti_tool.activity.countries).
    _countries: LastCountries = field(default_factory=dict)
    _created: set[int] = field(default_factory=set)  # people this sink created
    # Worker processes for the rollups of a large batch (a big log file); None: this process.
    workers: Workers | None = None
    # Write the identities of new learners once, in finish(), not batch by batch (a log file:
    # see HeldIdentities); the caller then reads no identities before finish.
    hold_identities: bool = False
    _held: HeldIdentities | None = None

    def __post_init__(self) -> None:
        take_turn(self.session)
        if self.hold_identities:
            self._held = HeldIdentities(self.platform.id if self.platform else None)

    def add(self, event: IncomingEvent) -> None:
        """Queue one event; its learner is resolved with the rest of the batch, in flush()."""
        row = event_row(event.time, event_key(event.raw), event.name, event.source, event.data)
        self._incoming.append(
            _Pending(
                event.course_id,
                event.course_key,
                event.identity_kind,
                event.user_key,
                event.username,
                event.email,
                event.email_sha1,
                epoch_day(event.time),
                row,
            )
        )
        self.counts.received += 1
        self._queued += 1
        if self._queued >= FLUSH_EVENTS:
            self.flush()

    def add_grouped(
        self, groups: GroupedEvents, videos: dict[str, dict[str, float | None]]
    ) -> None:
        """Queue events already reduced to block columns and grouped by learner and day, with
        the videos they name per course key (see blocks.note_videos)."""
        self._resolve_people(
            [(kind, user, name) for (_c, kind, user), (name, _d) in groups.items()]
        )
        for (course_key, kind, user_key), (_username, days) in groups.items():
            course_id = self._course_id(course_key)
            person_id = self._people[(kind, user_key)]
            for day, columns in days.items():
                self.counts.received += len(columns[KEY])
                self._queue(course_id, person_id, day, columns)
        for course_key, noted in videos.items():
            seen = self._videos_seen.setdefault(self._course_id(course_key), {})
            for video, duration in noted.items():
                note_video(seen, video, duration)
        if self._queued >= FLUSH_EVENTS:
            self.flush()

    def _queue(self, course_id: int, person_id: int, day: int, columns: Columns) -> None:
        """Hold new events for a block until the next flush (taking over `columns`)."""
        key = (course_id, person_id, day)
        queued = self._blocks.get(key)
        if queued is None:
            self._blocks[key] = columns
        else:
            extend(queued, columns)
        self._queued += len(columns[KEY])

    def flush(self) -> None:
        """Merge the queued events into their learners' stored blocks."""
        if self._incoming:
            self._take_incoming()
        by_course: dict[int, dict[tuple[int, int], Columns]] = defaultdict(dict)
        for (course_id, person_id, day), columns in self._blocks.items():
            by_course[course_id][(person_id, day)] = columns
        self._blocks, self._queued = {}, 0
        videos_seen, self._videos_seen = self._videos_seen, {}
        for course_id, seen in sorted(videos_seen.items()):
            self._record_videos(course_id, seen)
        for course_id, blocks in sorted(by_course.items()):
            touched = self._touched[course_id]
            # People this sink made have no blocks but those it wrote: nothing to look up.
            blockless = self._created - touched
            stored, filled = write_blocks(self.session, course_id, blocks, blockless, self._created)
            self.counts.stored += stored
            self.counts.details_filled += filled
            touched.update(person for person, _day in blocks)

    def add_countries(self, countries: LastCountries) -> None:
        """Queue learners' last known countries, (time, ISO code), keyed as in add_grouped (whose
        learners they must be); written once, by finish (one row per learner, not per batch)."""
        for key, seen in countries.items():
            known = self._countries.get(key)
            if known is None or seen[0] > known[0]:
                self._countries[key] = seen

    def _write_countries(self) -> None:
        """Record the queued countries of learners, where later than what is stored."""
        queued, self._countries = self._countries, {}
        latest: dict[tuple[int, int], tuple[float, str | None]] = {}
        for (course_key, kind, user_key), seen in queued.items():
            key = (self._course_id(course_key), self._people[(kind, user_key)])
            known = latest.get(key)
            if known is None or seen[0] > known[0]:
                latest[key] = seen
        write_countries(self.session, latest)

    def _take_incoming(self) -> None:
        """Resolve the learners of the events added one by one and queue their rows."""
        incoming, self._incoming = self._incoming, []
        self._resolve_people(
            [(e.identity_kind, e.user_key, e.username) for e in incoming],
            {
                (e.identity_kind, e.user_key): (e.email, e.email_sha1)
                for e in incoming
                if e.email or e.email_sha1
            },
        )
        for event in incoming:
            course_id = event.course_id or self._course_id(event.course_key)
            person_id = self._people[(event.identity_kind, event.user_key)]
            key = (course_id, person_id, event.day)
            columns = self._blocks.get(key)
            if columns is None:
                columns = self._blocks[key] = empty()
            append_row(columns, event.row)
            video = event.row[OBJECT_ID]
            if event.row[VIDEO_KIND] is not None and video is not None:
                seen = self._videos_seen.setdefault(course_id, {})
                note_video(seen, video, event.row[VIDEO_DURATION])

    def finish(self) -> IngestCounts:
        """Flush, record learners' countries, rebuild the rollups of every touched learner, and
        report."""
        self.flush()
        if self._held is not None:
            self._held.write(self.session)
        if self._countries:
            self._write_countries()
        # A course's first rows are added up as they are written (its class's sums then need
        # no read of them back: class_sums.of_added).
        adding = class_sums.start_adding(self.session, self._touched)
        rollups.rebuild(self.session, self._touched, self.workers, self._created, adding)
        self.counts.learners = len({p for people in self._touched.values() for p in people})
        self.counts.courses = len(self._touched)
        # From now on the people created so far have rollups, should the sink go on.
        self._touched, self._created = defaultdict(set), set()
        return self.counts

    def _record_videos(self, course_id: int, seen: dict[str, float | None]) -> None:
        """Record the course's videos events named, with the longest duration they gave.

        Durations only grow, so recording them as events arrive leaves every video with the
        longest duration any stored event gave, which the rollups then use as the fallback.
        """
        known = self._known_videos(course_id)
        for video_id, duration in seen.items():
            if video_id not in known:
                self.session.add(Video(course_id=course_id, video_id=video_id, duration=duration))
                known[video_id] = duration
            elif duration and ((longest := known[video_id]) is None or duration > longest):
                video = self.session.get(Video, (course_id, video_id))
                assert video is not None
                video.duration = known[video_id] = duration
        self.session.flush()

    def _known_videos(self, course_id: int) -> dict[str, float | None]:
        known = self._videos.get(course_id)
        if known is None:
            rows = self.session.execute(
                select(Video.video_id, Video.duration).where(Video.course_id == course_id)
            )
            known = self._videos[course_id] = dict(rows.tuples().all())
        return known

    def _course_id(self, key: str) -> int:
        # Tracking-log ingest names courses by key and creates the ones it has not seen. The
        # event API never gets here: its events carry the course its token may write to
        # (lti_tool.api.courses), so an API token never creates a course by this path.
        cached = self._courses.get(key)
        if cached is not None:
            return cached
        platform_id = self.platform.id if self.platform else None
        query = select(Course).where(
            Course.platform_id.is_(None)
            if platform_id is None
            else Course.platform_id == platform_id,
            (Course.lms_course_id == key) | (Course.lti_context_id == key),
        )
        course = self.session.scalars(query.order_by(Course.id)).first()
        if course is None:
            course = Course(
                platform_id=platform_id, lti_context_id=key, lms_course_id=key, title=key
            )
            self.session.add(course)
            self.session.flush()
        self._courses[key] = course.id
        return course.id

    def _resolve_people(
        self,
        learners: Sequence[tuple[str, str, str | None]],
        contacts: Mapping[tuple[str, str], tuple[str | None, str | None]] | None = None,
    ) -> None:
        """Find or create learners, (identity kind, user key, username), in one batch;
        `contacts` gives some of them an e-mail or its SHA-1 hex, (email, sha1).

        The rules are lti_tool.people.linking's: the source's identity, else the Open edX
        username; a username seen with an id that another person holds makes them one; else
        the e-mail.
        """
        wanted: dict[tuple[str, str], str | None] = {}
        named = self._named
        for kind, user_key, username in learners:
            key = (kind, user_key)
            if key in named:
                continue
            if key in self._people:
                # Resolved without a username (a server or task event): resolved again when a
                # later batch brings it, as a later run would, so that it is not lost.
                name = real_username(username)
                if name and not wanted.get(key):
                    wanted[key] = name
            elif key not in wanted or not wanted[key]:
                wanted[key] = real_username(username)
        if not wanted:
            return
        emails = self._emails({k: v for k, v in (contacts or {}).items() if k in wanted})
        claims = [
            Claim(
                [key, ("openedx_username", username)] if username else [key],
                {"email": emails[key]} if key in emails else {},
            )
            for key, username in wanted.items()
        ]
        platform_id = self.platform.id if self.platform else None
        linked = link_people(self.session, platform_id, claims, self._held)
        self._created.update(linked.created)
        self._people.update(zip(wanted, linked.person_ids, strict=True))
        named.update(key for key, username in wanted.items() if username)
        if linked.merged_into:
            self._follow_merges(linked.merged_into)

    def _emails(
        self, contacts: Mapping[tuple[str, str], tuple[str | None, str | None]]
    ) -> dict[tuple[str, str], str]:
        """The e-mail of each learner that has one: given, or found by its SHA-1 hex among the
        people of the platform (only for learners not recorded yet: the lookup reads them all)."""
        emails = {key: email for key, (email, _sha1) in contacts.items() if email}
        hashed = {key: sha1 for key, (email, sha1) in contacts.items() if sha1 and not email}
        platform_id = self.platform.id if self.platform else None
        held = self._held.owners if self._held is not None else {}
        if hashed:
            known = identity_owners(self.session, platform_id, hashed)
            hashed = {k: sha1 for k, sha1 in hashed.items() if k not in known and k not in held}
        if hashed and self._held is not None:
            self._held.write(self.session)  # the e-mail lookup reads every person's identities
        for kind in {kind for kind, _user in hashed}:
            digests = {sha1 for (k, _user), sha1 in hashed.items() if k == kind}
            found = emails_by_sha1(self.session, platform_id, digests, kind)
            for key, sha1 in hashed.items():
                if key[0] == kind and sha1 in found:
                    emails[key] = found[sha1]
        return emails

    def _follow_merges(self, merged_into: dict[int, int]) -> None:
        """Point what this sink holds about people merged away at the people they became."""
        self._people = {k: merged_into.get(p, p) for k, p in self._people.items()}
        blocks, self._blocks = self._blocks, {}
        for (course_id, person_id, day), columns in blocks.items():
            key = (course_id, merged_into.get(person_id, person_id), day)
            if key in self._blocks:
                extend(self._blocks[key], columns)
            else:
                self._blocks[key] = columns
        for people in self._touched.values():
            for drop, keep in merged_into.items():
                if drop in people:
                    people.discard(drop)
                    people.add(keep)
        # A person kept in a merge has the other's blocks and rollups now: no longer new.
        self._created -= set(merged_into) | set(merged_into.values())
