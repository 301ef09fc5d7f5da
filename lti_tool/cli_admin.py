"""`flask admin …` (local administrators) and `flask data purge` (retention)."""

from __future__ import annotations

import click

#: Top-level command groups of this module (subcommands of `flask data` attach themselves).
COMMANDS: list[click.Command] = []
