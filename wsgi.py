"""WSGI entry point: `gunicorn wsgi:app` (configuration from the environment)."""

from lti_tool import create_app

app = create_app()
