"""Linking what a source says about a learner to one person row: one rule set for every source.

A source names a person by identities (`person_identity` kind and value, strongest first: the
first one names the account, e.g. the launch's `lti_sub` or a log's `openedx_user_id`) and maybe
an e-mail address. The rules, in order:

1. an identity already recorded on the platform names the person; when several identities name
   different people, those people were one human all along and are merged (the one who has
   launched is kept), unless both hold a different value of the claim's first kind: then they
   are two accounts, and the later identity stays where it is;
2. else the one person of the platform with that e-mail who has no identity of the claim's first
   kind yet (someone already known under another account of that kind is another account);
3. else a new person.
Then every identity of the claim not recorded yet is recorded for that person, and the names and
e-mail it carries are kept. The launch, the NRPS, Canvas and Open edX syncs, tracking logs, xAPI
and the event API all call `link_people`, a batch at a time.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, text

from lti_tool.activity.rollups import shown_again
from lti_tool.activity.sql import IN_CHUNK, driver_time, insert_rows, select_in
from lti_tool.models import LearnerSummary, Person, PersonIdentity
from lti_tool.models.types import DbSession, UTCDateTime, utcnow
from lti_tool.people.merge import merge_people
from lti_tool.people.usernames import real_username

#: Person attributes a claim may carry.
ATTRIBUTES = ("name", "given_name", "family_name", "email")
#: The LTI custom-parameters claim.
CUSTOM = "https://purl.imsglobal.org/spec/lti/claim/custom"
#: How many values go into one IN (…) query.
CHUNK = 500

Identity = tuple[str, str]


def _str(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def launch_claim(claims: Mapping[str, Any]) -> Claim:
    """The identities, names and e-mail a launch (or an NRPS member) carries."""
    custom = claims.get(CUSTOM)
    custom = custom if isinstance(custom, dict) else {}
    identities = [("lti_sub", str(claims["sub"]))]
    canvas_user = _str(custom.get("canvas_user_id"))
    if canvas_user and not canvas_user.startswith("$"):
        identities.append(("canvas_user_id", canvas_user))
    # Open edX sends the username when the course shares it; its tracking logs carry it too.
    username = real_username(claims.get("preferred_username")) or real_username(
        custom.get("username")
    )
    if username and not username.startswith("$"):
        identities.append(("openedx_username", username))
    attrs = {a: v for a in ATTRIBUTES if (v := _str(claims.get(a)))}
    return Claim(identities, attrs)


@dataclass
class Claim:
    """What one source says about one person: identities (strongest first) and attributes."""

    identities: list[Identity]
    attrs: dict[str, str] = field(default_factory=dict)

    @property
    def email(self) -> str | None:
        """The e-mail the claim carries, if any."""
        return self.attrs.get("email")


@dataclass
class Linked:
    """The outcome of a batch: a person id per claim, in order, and what changed."""

    person_ids: list[int]
    created: set[int] = field(default_factory=set)
    merged: int = 0
    #: People merged away in this batch → the person they became (for callers' caches).
    merged_into: dict[int, int] = field(default_factory=dict)
    identities_added: int = 0
    attributes_changed: int = 0


def _new(index: int) -> int:
    """The owner key of the index-th person a batch will create (negative: no row yet).

    Plain ints, not objects: a log of 100,000 learners resolves them by the hundred thousand.
    """
    return -1 - index


def _platform_filter(platform_id: int | None) -> Any:
    if platform_id is None:
        return PersonIdentity.platform_id.is_(None)
    return PersonIdentity.platform_id == platform_id


def identity_owners(
    session: DbSession, platform_id: int | None, identities: Iterable[Identity]
) -> dict[Identity, int]:
    """The person each recorded identity names, with a query per kind and chunk.

    Plain SQL on the driver (sql.select_in): a log of many learners looks them up by the
    hundred thousand.
    """
    by_kind: dict[str, set[str]] = defaultdict(set)
    for kind, value in identities:
        by_kind[kind].add(value)
    found: dict[Identity, int] = {}
    platform = "platform_id IS NULL" if platform_id is None else "platform_id = {p}"
    head = () if platform_id is None else (platform_id,)
    sql = (
        "SELECT value, person_id FROM person_identity "  # noqa: S608 (marks only)
        f"WHERE {platform} AND kind = {{p}} AND value {{in}}"
    )
    for kind, values in by_kind.items():
        rows = select_in(session, sql, (*head, kind), sorted(values))
        found.update(((kind, value), person_id) for value, person_id in rows)
    return found


def people_known_as(
    session: DbSession, kind: str, value: str, platform_id: int | None = None
) -> set[int]:
    """The people holding the identity KIND=VALUE: on every platform, or on this one if given."""
    query = select(PersonIdentity.person_id).where(
        PersonIdentity.kind == kind, PersonIdentity.value == value
    )
    if platform_id is not None:
        query = query.where(PersonIdentity.platform_id == platform_id)
    return set(session.scalars(query))


def _holders(
    session: DbSession, platform_id: int | None, kind: str, people: Iterable[int]
) -> set[int]:
    """Which of these people hold an identity of this kind on the platform."""
    return set(
        session.scalars(
            select(PersonIdentity.person_id).where(
                _platform_filter(platform_id),
                PersonIdentity.kind == kind,
                PersonIdentity.person_id.in_(list(people)),
            )
        )
    )


def _email_candidates(
    session: DbSession, platform_id: int | None, first_kind: str
) -> list[tuple[int, str]]:
    """(person id, e-mail) of the people of the platform with an e-mail and no identity of
    this kind: those rule 2 may link a claim of that kind to."""
    named = select(PersonIdentity.person_id).where(
        _platform_filter(platform_id), PersonIdentity.kind == first_kind
    )
    rows = session.execute(
        select(Person.id, Person.email)
        .join(PersonIdentity, PersonIdentity.person_id == Person.id)
        .where(_platform_filter(platform_id), Person.email.is_not(None), Person.id.not_in(named))
        .distinct()
    )
    return [(person_id, email) for person_id, email in rows]


def emails_by_sha1(
    session: DbSession, platform_id: int | None, digests: Iterable[str], first_kind: str
) -> dict[str, str]:
    """The e-mail behind each SHA-1 hex digest (xAPI's mbox_sha1sum) among rule 2's candidates
    for a claim of `first_kind`; a digest that fits no one, or several people, is left out.

    Senders hash differently: event-routing-backends the bare address as the LMS stores it, the
    xAPI specification the `mailto:` IRI; either, as given or in lower case, is recognised.
    """
    wanted = {d.lower() for d in digests}
    if not wanted:
        return {}
    found: dict[str, str] = {}
    owners: dict[str, set[int]] = defaultdict(set)
    for person_id, email in _email_candidates(session, platform_id, first_kind):
        address = email.strip()
        forms = {address, address.lower()}
        for form in forms | {f"mailto:{f}" for f in forms}:
            digest = hashlib.sha1(form.encode("utf-8")).hexdigest()  # noqa: S324 (xAPI's hash)
            if digest in wanted:
                found[digest] = address
                owners[digest].add(person_id)
    return {digest: email for digest, email in found.items() if len(owners[digest]) == 1}


class HeldIdentities:
    """Identities `link_people` recorded for a caller that writes them later, all at once.

    A log ingest links its learners a chunk at a time; inserting each chunk's identities
    between its block writes made SQLite update three indexes of a large database row by row
    (a log of 50,000 learners: 100,000 identities, 5.5 s), where inserting them together takes
    a tenth of that. Until written they count as recorded: the next batches find them here
    (`owners`), and whatever reads the table for other people (a merge, the e-mail rule) has
    them written first.
    """

    def __init__(self, platform_id: int | None) -> None:
        self.platform_id = platform_id
        self.owners: dict[Identity, int] = {}  # identity -> the person it names
        self._rows: list[tuple[int, str, str, datetime]] = []  # and the time of its batch

    def add(self, rows: Iterable[tuple[int, str, str]], now: datetime) -> None:
        """Hold new identities, (person id, kind, value), each not recorded yet."""
        for person, kind, value in rows:
            self.owners[(kind, value)] = person
            self._rows.append((person, kind, value, now))

    def write(self, session: DbSession) -> int:
        """Insert the held identities; how many."""
        rows, self._rows, self.owners = self._rows, [], {}
        _insert_identities(session, self.platform_id, rows)
        return len(rows)


class _Batch:
    """The state of one `link_people` call."""

    def __init__(
        self,
        session: DbSession,
        platform_id: int | None,
        claims: Sequence[Claim],
        held: HeldIdentities | None = None,
    ):
        self.session, self.platform_id, self.claims, self.held = session, platform_id, claims, held
        wanted = {i for c in claims for i in c.identities}
        self.found: dict[Identity, int] = {}
        if held is not None:
            self.found = {i: held.owners[i] for i in wanted if i in held.owners}
            wanted -= self.found.keys()
        self.found.update(identity_owners(session, platform_id, wanted))
        self.alias: dict[int, int] = {}  # merged or folded owners → who they became
        self.new_count = 0
        self.new_identities: list[tuple[int, str, str]] = []
        self.emails: dict[str, dict[str, set[int]]] = {}  # first kind → e-mail → people
        self.taken_by_email: set[int] = set()
        self.merged = 0

    def owner(self, key: int) -> int:
        while key in self.alias:
            key = self.alias[key]
        return key

    def _fold(self, keep: int, drop: int, first_kind: str) -> int:
        """Make two owners one; returns the one kept (or `keep` when they are two accounts)."""
        if drop < 0:
            self.alias[drop] = keep
            return keep
        if keep < 0:
            self.alias[keep] = drop
            return drop
        # Two stored people: merge, unless each holds its own value of the first kind.
        self.write_held()
        if len(_holders(self.session, self.platform_id, first_kind, (keep, drop))) == 2:
            return keep
        if _holders(self.session, self.platform_id, "lti_sub", (drop,)) and not _holders(
            self.session, self.platform_id, "lti_sub", (keep,)
        ):
            keep, drop = drop, keep  # keep the person who launched: their session names them
        merge_people(self.session, keep, drop)
        self.alias[drop] = keep
        self.merged += 1
        return keep

    def write_held(self) -> None:
        """Write the caller's held identities: the table is read for other people next."""
        if self.held is not None:
            self.held.write(self.session)

    def _by_email(self, first_kind: str, email: str) -> int | None:
        table = self.emails.get(first_kind)
        if table is None:
            self.write_held()
            table = self.emails[first_kind] = self._email_table(first_kind)
        matches = {self.owner(p) for p in table.get(email.strip().lower(), ())}
        matches -= self.taken_by_email
        return next(iter(matches)) if len(matches) == 1 else None

    def _email_table(self, first_kind: str) -> dict[str, set[int]]:
        """E-mail (lower case) → people of the platform with it and no identity of that kind."""
        table: dict[str, set[int]] = defaultdict(set)
        for person_id, email in _email_candidates(self.session, self.platform_id, first_kind):
            table[email.strip().lower()].add(person_id)
        return table

    def resolve(self, claim: Claim) -> int:
        """The owner of one claim (a stored person id, or a new one's `_new` key), recording
        its identities."""
        first_kind = claim.identities[0][0]
        owner = None
        for identity in claim.identities:
            found = self.found.get(identity)
            if found is None:
                continue
            found = self.owner(found)
            owner = (
                found if owner is None or owner == found else self._fold(owner, found, first_kind)
            )
        if owner is None and claim.email:
            owner = self._by_email(first_kind, claim.email)
            if owner is not None:
                self.taken_by_email.add(owner)
        if owner is None:
            owner = _new(self.new_count)
            self.new_count += 1
        for identity in claim.identities:
            if identity not in self.found:
                self.found[identity] = owner
                self.new_identities.append((owner, *identity))
        return owner


def link_people(
    session: DbSession,
    platform_id: int | None,
    claims: Sequence[Claim],
    held: HeldIdentities | None = None,
) -> Linked:
    """Find, merge or create the person of every claim (see the module's rules); no commit.

    With `held`, the identities it holds count as recorded, and the new ones are added to it
    instead of written (the caller writes them: HeldIdentities.write).
    """
    batch = _Batch(session, platform_id, claims, held)
    owners = [batch.resolve(claim) for claim in claims]
    owners = [batch.owner(o) for o in owners]

    # Create the new people that were not folded into someone, with their attributes.
    fresh = sorted({o for o in owners if o < 0}, reverse=True)  # in creation order
    attrs_of: dict[int, dict[str, str]] = defaultdict(dict)
    for owner, claim in zip(owners, claims, strict=True):
        for key, value in claim.attrs.items():
            if value:
                attrs_of[owner][key] = value
    created_ids: dict[int, int] = {}
    now = utcnow()
    if fresh and any(o < 0 for o in attrs_of):
        table = Person.__table__
        stamps = {"created_at": now, "updated_at": now}
        inserted = session.execute(
            insert(table).returning(table.c.id, sort_by_parameter_order=True),
            [stamps | {a: attrs_of.get(o, {}).get(a) for a in ATTRIBUTES} for o in fresh],
        )
        created_ids = dict(zip(fresh, inserted.scalars(), strict=True))
    elif fresh:
        # Logs and xAPI carry no names: their thousands of new people are the same bare row,
        # so whichever id goes to whom, one statement makes them all.
        created_ids = dict(zip(fresh, _bare_people(session, len(fresh), now), strict=True))

    def person_id(owner: int) -> int:
        owner = batch.owner(owner)
        return created_ids[owner] if owner < 0 else owner

    changed = _keep_attributes(session, {o: a for o, a in attrs_of.items() if o > 0})
    rows = [(person_id(owner), kind, value) for owner, kind, value in batch.new_identities]
    _shown_again(session, {person for person, _kind, _value in rows} - set(created_ids.values()))
    if held is not None:
        held.add(rows, now)
    else:
        _insert_identities(session, platform_id, [(*row, now) for row in rows])
    return Linked(
        person_ids=[person_id(o) for o in owners],
        created=set(created_ids.values()),
        merged=batch.merged,
        merged_into={d: batch.owner(d) for d in batch.alias if d > 0},
        identities_added=len(rows),
        attributes_changed=changed,
    )


def _shown_again(session: DbSession, people: set[int]) -> None:
    """Stored people now known by more (a username a later log brought): every course whose
    summary shows them is marked changed, with whom, so their rows (names) are written again."""
    if not people:
        return
    ordered = sorted(people)
    shown: dict[int, set[int]] = {}
    for start in range(0, len(ordered), IN_CHUNK):
        chunk = ordered[start : start + IN_CHUNK]
        for course_id, person_id in session.execute(
            select(LearnerSummary.course_id, LearnerSummary.person_id).where(
                LearnerSummary.person_id.in_(chunk)
            )
        ):
            shown.setdefault(course_id, set()).add(person_id)
    shown_again(session, shown)


def _insert_identities(
    session: DbSession, platform_id: int | None, rows: Sequence[tuple[int, str, str, datetime]]
) -> None:
    """Record identities, (person id, kind, value, created at), each not recorded yet."""
    if not rows:
        return
    # Through the driver (COPY on PostgreSQL): a log of many learners adds them by the
    # hundred thousand, and the ORM's bulk insert took most of such an ingest.
    times = {at: driver_time(session, at) for at in {row[3] for row in rows}}
    insert_rows(
        session,
        PersonIdentity,
        [(p, platform_id, k, v, times[at]) for p, k, v, at in rows],
        ("person_id", "platform_id", "kind", "value", "created_at"),
    )


def _bare_people(session: DbSession, count: int, now: datetime) -> list[int]:
    """Create `count` people without names or e-mail; their ids."""
    # One INSERT … SELECT over a counter: no parameters per row (SQLite ≥ 3.35 and PostgreSQL
    # both return the ids).
    statement = text(
        "INSERT INTO person (created_at, updated_at) "
        "SELECT :now, :now FROM ("
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count) "
        "SELECT i FROM n) AS counter RETURNING id"
    ).bindparams(bindparam("now", type_=UTCDateTime))
    ids = list(session.scalars(statement, {"now": now, "count": count}))
    if len(ids) != count:
        raise RuntimeError(f"made {len(ids)} people of {count}")
    return ids


def _keep_attributes(session: DbSession, attrs: dict[int, dict[str, str]]) -> int:
    """Write the names and e-mails claims gave stored people; how many values changed."""
    changed = 0
    ids = sorted(attrs)
    for start in range(0, len(ids), CHUNK):
        for person in session.scalars(
            select(Person).where(Person.id.in_(ids[start : start + CHUNK]))
        ):
            for key, value in attrs[person.id].items():
                if getattr(person, key) != value:
                    setattr(person, key, value)
                    changed += 1
    return changed


def link_person(session: DbSession, platform_id: int | None, claim: Claim) -> Person:
    """The person of one claim (see `link_people`), loaded."""
    person = session.get(Person, link_people(session, platform_id, [claim]).person_ids[0])
    assert person is not None
    return person
