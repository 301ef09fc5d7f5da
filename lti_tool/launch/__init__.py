"""LTI 1.3: OIDC login, launch, keys, registration, and who the user is afterwards."""

from lti_tool.launch.views import bp

__all__ = ["bp"]
