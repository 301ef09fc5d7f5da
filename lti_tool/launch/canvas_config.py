"""The Canvas LTI 1.3 developer-key JSON (paste into Admin > Developer Keys > LTI Key)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"


def canvas_developer_key(base_url: str, title: str, jwks_url: str) -> dict[str, Any]:
    """Return the developer-key JSON: public privacy, NRPS, course navigation, custom fields."""
    base = base_url.rstrip("/")
    launch = base + "/lti/launch"
    return {
        "title": title,
        "description": "Learning analytics for the course: activity, time spent, video, "
        "completion, grades and learners at risk. Students see their own progress.",
        "oidc_initiation_url": base + "/lti/login",
        "target_link_uri": launch,
        "scopes": [NRPS_SCOPE],
        "extensions": [
            {
                "domain": urlsplit(base).netloc,
                "tool_id": "lti_tool",
                "platform": "canvas.instructure.com",
                "privacy_level": "public",
                "settings": {
                    "text": title,
                    "placements": [
                        {
                            "placement": "course_navigation",
                            "message_type": "LtiResourceLinkRequest",
                            "target_link_uri": launch,
                            "text": title,
                            "default": "enabled",
                            "visibility": "members",
                        },
                        {
                            # Modules > Add item > External tool: the deep-linking picker.
                            "placement": "link_selection",
                            "message_type": "LtiDeepLinkingRequest",
                            "target_link_uri": launch,
                            "text": title,
                        },
                    ],
                },
            }
        ],
        "public_jwk_url": jwks_url,
        "custom_fields": {
            "canvas_course_id": "$Canvas.course.id",
            "canvas_user_id": "$Canvas.user.id",
            "canvas_api_domain": "$Canvas.api.domain",
        },
    }
