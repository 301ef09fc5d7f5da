"""Canvas REST API sync: people, enrollments, sections, grades, submissions, modules, analytics.

The platform's `data_source` row (kind "canvas", location = the Canvas base URL) holds an API
token encrypted with DATA_ENCRYPTION_KEY; `flask platform set-canvas` stores it. A course is
synced when its launch gave `lms_course_id` (the `$Canvas.course.id` custom field).

Everything is fetched before anything is written, and written in the caller's transaction, so a
failure at any point leaves the previous data as it was. Lists are read 100 a page, following
`Link: rel="next"` only; per-student payloads (module states, hourly activity) and submissions
are reduced to tuples and spooled to a temporary file as they arrive, so memory stays flat in
the number of students.

A run is *full* the first time and then once every CANVAS_FULL_SYNC_HOURS (24): it re-reads
the bulk lists (users with e-mail, every submission grouped by student, bulk_user_progress,
student_summaries). Other runs are *incremental*: the enrollment list (every page: it carries
activity time, last activity and grades for everyone, and shows drops), the course, sections,
assignments, modules, course activity, submissions submitted or graded since the last run, and
users not seen before. Only learners whose `last_activity_at` is after the last successful run
get per-student calls (module states, hourly activity), plus the student_summaries list when
anybody was active. A due date that passed since the last run re-reads that assignment's
submissions and the summaries (missing and late change without anybody doing anything).

Due dates follow each learner. An assignment's own `due_at` is only the date "as it applies to
the user requesting" (the token's user); each submission's `cached_due_date` is the learner's
own, section, group and individual overrides included, and is kept as `Submission.due_at`. The
assignments list is read with `include[]=all_dates` (the same request) for the course events on
the charts: the date for everyone and one per section override. Scores: `current_score` is the
posted score (what the learner sees); `unposted_current_score` (what the gradebook shows staff)
comes only when the token's user may manage or view all grades, and is kept beside it.
"""

from lti_tool.sync.canvas.run import sync_course
from lti_tool.sync.canvas.source import _throttled as _throttled
from lti_tool.sync.canvas.source import check_connection
from lti_tool.sync.canvas.values import _dt as _dt

# What lti_tool.jobs.runs, the CLI and the admin's connection test call, as for every sync
# source; _dt and _throttled are here only because the tests read them through the package.
__all__ = ["check_connection", "sync_course"]
