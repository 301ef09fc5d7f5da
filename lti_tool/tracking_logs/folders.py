"""Tracking-log folders per platform: registered once, ingested by the scheduler's nightly job.

A folder is a `data_source` row (kind "log_folder", location = its path), registered by
lti_tool.platforms. The nightly job
ingests each enabled folder with the same code as `flask ingest tracking-logs`, which is
incremental: files already read are recognised by their content and only new bytes are read.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from lti_tool.i18n.text import english, lazy_gettext, using
from lti_tool.models import DataSource, Platform
from lti_tool.models.types import DbSession, utcnow
from lti_tool.platforms import LOG_FOLDER, check_folder
from lti_tool.tracking_logs.ingest import ingest_tracking_logs

log = logging.getLogger(__name__)


def ingest_log_folders(session: DbSession, workers: int | None = 0) -> str:
    """Ingest every enabled folder of every enabled platform; one line saying what happened.

    A folder that cannot be read is recorded on its row and the others go on. `workers` 0 parses
    in this process (the scheduler's job threads must not fork); None: one process per CPU.
    """
    sources = list(
        session.scalars(
            select(DataSource)
            .join(Platform, Platform.id == DataSource.platform_id)
            .where(DataSource.kind == LOG_FOLDER, DataSource.enabled.is_(True))
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
            why = lazy_gettext(
                "%(events)s events ingested from %(files)s files (%(unchanged)s unchanged, "
                "%(skipped)s lines skipped)",
                events=summary["events_ingested"],
                files=summary["files"],
                unchanged=summary["files_unchanged"],
                skipped=sum(summary["skipped"].values()),
            )
        else:
            log.warning("log folder %s: %s", location, why)
        source = session.get(DataSource, source_id)
        if source is not None:
            source.record_check(why, utcnow())
            session.commit()
        with using(english()):
            parts.append(f"{location}: {why}")
    return "; ".join(parts)
