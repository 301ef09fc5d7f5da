"""Learners' pseudonyms: the key they are derived from, kept so that rotating SECRET_KEY
renames nobody."""

from __future__ import annotations

import hashlib

from flask import current_app
from sqlalchemy.exc import IntegrityError

from lti_tool.extensions import db
from lti_tool.models import ToolSetting

#: The tool_setting row that keeps the pseudonym key.
PSEUDONYM_SETTING = "pseudonym_key"


def pseudonym_key() -> bytes:
    """The key of learners' pseudonyms: PSEUDONYM_KEY, else the one the tool keeps.

    The kept key is made on first use from the SECRET_KEY of that day (what pseudonyms were
    derived from before), so that today's pseudonyms stay, and rotating SECRET_KEY later renames
    nobody. The app remembers it once read (one query per process).
    """
    configured = current_app.config.get("PSEUDONYM_KEY")
    if configured:
        return hashlib.sha256(b"lti_tool pseudonyms:" + str(configured).encode()).digest()
    cached = current_app.extensions.get("pseudonym_key")
    if cached is None:
        cached = current_app.extensions["pseudonym_key"] = _kept_pseudonym_key(
            str(current_app.secret_key)
        )
    return cached


def pseudonym_key_uncommitted() -> bytes:
    """The key of learners' pseudonyms as pseudonym_key gives it, made if need be inside the
    transaction under way without committing it: for where a commit must not happen (inside
    another commit, lti_tool._refresh_summaries)."""
    configured = current_app.config.get("PSEUDONYM_KEY")
    if configured or "pseudonym_key" in current_app.extensions:
        return pseudonym_key()
    return _kept_pseudonym_key(str(current_app.secret_key), commit=False)


def _kept_pseudonym_key(secret_key: str, commit: bool = True) -> bytes:
    """The key stored in tool_setting, made from `secret_key` the first time (committed unless
    asked not to: it then goes with the transaction under way)."""
    row = db.session.get(ToolSetting, PSEUDONYM_SETTING)
    if row is None:
        seeded = hashlib.sha256(b"lti_tool pseudonyms:" + secret_key.encode()).hexdigest()
        try:
            # Its own transaction: two workers seeding at once agree on the first one's.
            with db.session.begin_nested():
                db.session.add(ToolSetting(name=PSEUDONYM_SETTING, value=seeded))
            if commit:
                db.session.commit()
        except IntegrityError:
            if commit:
                db.session.rollback()
        row = db.session.get(ToolSetting, PSEUDONYM_SETTING)
        assert row is not None
    return bytes.fromhex(row.value)
