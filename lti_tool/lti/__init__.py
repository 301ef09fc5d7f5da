"""The tool's LTI identity, below launches and syncs: its keys (keys) and its registrations on
the platforms (registrations)."""
