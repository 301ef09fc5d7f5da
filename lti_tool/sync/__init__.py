"""Everything that brings data in: LMS clients, tracking-log and event ingest, the scheduler."""
