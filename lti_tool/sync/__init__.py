"""The LMS clients: the shared HTTP client (http) and its errors (errors), NRPS rosters (nrps),
Open edX (openedx), Canvas (canvas). Each source's `sync_course` writes into the caller's
transaction; lti_tool.jobs runs them and records each run."""
