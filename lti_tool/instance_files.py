"""Files in instance/ (the SQLite database, the development platform's key): owner-only."""

from __future__ import annotations

import os

PRIVATE = 0o600


def instance_folder(path: str) -> None:
    """Make the instance folder (owner-only when this makes it)."""
    os.makedirs(path, mode=0o700, exist_ok=True)


def private_file(path: str) -> None:
    """Create the file empty if absent, and make it readable and writable by its owner only."""
    # Created with the mode, not chmod-ed after: no moment in which others may open it.
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE))
    # One made before this rule (or by another program) is narrowed too.
    os.chmod(path, PRIVATE)


def write_private(path: str, text: str) -> None:
    """Write a text file readable and writable by its owner only."""
    private_file(path)
    with open(path, "w", encoding="ascii") as handle:
        handle.write(text)
