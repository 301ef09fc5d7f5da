"""The LMS clients: the shared HTTP client and its errors (http), NRPS rosters (nrps), Open edX
(openedx), Canvas (canvas), and the sync runs that call them (runs)."""
