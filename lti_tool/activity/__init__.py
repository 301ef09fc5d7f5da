"""The event store: learner-day blocks (blocks), the rollups rebuilt from them (rollups), video
viewings as stored runs (video), and the SQL and worker-process helpers these share (sql,
workers).

The event sink (lti_tool.events.sink, fed by tracking-log ingest and the event API) and the LMS
syncs (lti_tool.sync) write it; the KPIs (lti_tool.kpis) read it.
"""
