"""The KPIs: computations over the stored tables, shared by the pages, the CLI and the API.

No Flask here (keyed reports get the pseudonym key through `reports.default_key`). Activity:
`activity` (time spent, weekly counts), `video`/`video_engagement`, `engagement` (segments),
`resources`; the LMS's facts: `roster` (who is in the class), `completion`, `grades`,
`course_events`; together: `learners` (the learners table, the student page's own figures),
`at_risk`; and `reports`, the named reports. `course_settings`, `labels` and `formatting` (h:mm)
serve them all.
"""
