"""Open edX tracking logs into the event store: reading and parsing lines (parse), chunks parsed
in worker processes (chunks), ingest of files (ingest) and of the platforms' log folders
(folders)."""
