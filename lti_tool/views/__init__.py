"""The pages: thin routes that read the request, call the KPIs and render.

`course` (the staff overview and the student page, and the blueprint the others add to),
`learners`, `grades`, `settings`, `course_events`; `charts` builds the Plotly figures; `home`
is the tool's own front page.
"""
