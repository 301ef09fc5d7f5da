"""The event store: learner-day blocks (blocks), the sink that merges incoming events into them
(sink), the rollups rebuilt from them (rollups), video viewings as stored runs (video), and the
SQL and worker-process helpers these share (sql, workers).

The LMS syncs (lti_tool.sync), tracking-log ingest (lti_tool.tracking_logs) and the event API
write it; the KPIs (lti_tool.kpis) read it.
"""
