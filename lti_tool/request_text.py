"""Requests holding text no database can store (a NUL character) are refused up front."""

from __future__ import annotations

from flask import abort, request

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def refuse_nul_characters() -> None:
    """A 400 when the path, the query or a submitted form holds a NUL character.

    PostgreSQL text cannot hold NUL: a launch's `iss=%00` or an admin form's name would otherwise
    fail at the first query with a 500 (SQLite would store it). JSON bodies are checked where
    they are parsed (json_input).
    """
    fields = [request.path, *(k + v for k, v in request.args.items(multi=True))]
    if request.mimetype in FORM_TYPES and not request.path.startswith(("/api/", "/xapi/")):
        fields += [k + v for k, v in request.form.items(multi=True)]
    if any("\x00" in field for field in fields):
        abort(400, description="The request holds a NUL character (%00), which no field may hold.")
