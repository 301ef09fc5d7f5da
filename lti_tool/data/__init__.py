"""What happens to the data once stored: a learner's access and deletion requests (privacy) and
the retention periods (retention)."""
