"""The event ingest API, the xAPI LRS endpoint, the reports API and their tokens."""

from lti_tool.api.views import api_bp, xapi_bp

__all__ = ["api_bp", "xapi_bp"]
