"""Tracking-log folders per platform: registered once, ingested by the scheduler's nightly job.

A folder is a `data_source` row (kind "log_folder", location = its path). The nightly job
ingests each enabled folder with the same code as `flask ingest tracking-logs`, which is
incremental: files already read are recognised by their content and only new bytes are read.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.models import DataSource, Platform
from lti_tool.models.types import utcnow
from lti_tool.sync.log_ingest import ingest_tracking_logs

log = logging.getLogger(__name__)
KIND = "log_folder"


class FolderError(ValueError):
    """A folder that cannot be registered, with the reason in words."""


def check_folder(path: str) -> tuple[bool, str]:
    """Whether the folder exists and can be listed and read, in words."""
    folder = Path(path)
    if not folder.exists():
        return False, f"{path} does not exist"
    if not folder.is_dir():
        return False, f"{path} is not a folder"
    if not os.access(folder, os.R_OK | os.X_OK):
        return False, f"{path} cannot be read by this process (user id {os.getuid()})"
    files = sum(1 for p in folder.rglob("*") if p.is_file())
    return True, f"{path} is readable: {files} files"


def add_log_folder(session: Session, platform: Platform, path: str) -> tuple[DataSource, bool]:
    """Register a folder for a platform (absolute, existing); returns (row, created)."""
    folder = Path(path).expanduser()
    if not folder.is_absolute():
        raise FolderError(f"{path} is not an absolute path (the scheduler runs elsewhere)")
    ok, why = check_folder(str(folder))
    if not ok:
        raise FolderError(why)
    location = str(folder.resolve())
    source = session.scalar(
        select(DataSource).where(
            DataSource.platform_id == platform.id,
            DataSource.kind == KIND,
            DataSource.location == location,
        )
    )
    created = source is None
    if source is None:
        source = DataSource(platform_id=platform.id, kind=KIND, location=location)
        session.add(source)
    source.enabled = True
    source.last_checked_at, source.last_check = utcnow(), why
    session.flush()
    return source, created


def ingest_log_folders(session: Session, workers: int | None = 0) -> str:
    """Ingest every enabled folder of every enabled platform; one line saying what happened.

    A folder that cannot be read is recorded on its row and the others go on. `workers` 0 parses
    in this process (the scheduler's job threads must not fork); None: one process per CPU.
    """
    sources = list(
        session.scalars(
            select(DataSource)
            .join(Platform, Platform.id == DataSource.platform_id)
            .where(DataSource.kind == KIND, DataSource.enabled.is_(True))
            .where(Platform.enabled.is_(True))
            .order_by(DataSource.id)
        )
    )
    if not sources:
        return "no log folders configured"
    parts = []
    for source_id, platform_id, location in [(s.id, s.platform_id, s.location) for s in sources]:
        ok, why = check_folder(location)
        if ok:
            platform = session.get(Platform, platform_id)
            report = ingest_tracking_logs(session, [location], platform, workers=workers)
            summary = report.as_dict()
            why = (
                f"{summary['events_ingested']} events ingested from {summary['files']} files "
                f"({summary['files_unchanged']} unchanged, {sum(summary['skipped'].values())} "
                "lines skipped)"
            )
        else:
            log.warning("log folder %s: %s", location, why)
        source = session.get(DataSource, source_id)
        if source is not None:
            source.last_checked_at, source.last_check = utcnow(), why
            session.commit()
        parts.append(f"{location}: {why}")
    return "; ".join(parts)
