"""atheris harnesses; see fuzz/README.md."""
