"""SQLAlchemy 2.0 typed models, one module per area."""

from lti_tool.models.activity import (
    ActivityBlock,
    IngestFile,
    LearnerDay,
    Video,
    VideoLearnerViews,
    WeeklyActivity,
)
from lti_tool.models.api import ApiToken, XapiStatement
from lti_tool.models.course import Course, Enrollment, Person, PersonIdentity
from lti_tool.models.lti import (
    LaunchError,
    LtiDeployment,
    LtiRegistration,
    LtiStoreEntry,
    Platform,
    ToolKey,
)
from lti_tool.models.sync import JobSlot, SyncRun

__all__ = [
    "ActivityBlock",
    "ApiToken",
    "Course",
    "Enrollment",
    "IngestFile",
    "JobSlot",
    "LaunchError",
    "LearnerDay",
    "LtiDeployment",
    "LtiRegistration",
    "LtiStoreEntry",
    "Person",
    "PersonIdentity",
    "Platform",
    "SyncRun",
    "ToolKey",
    "Video",
    "VideoLearnerViews",
    "WeeklyActivity",
    "XapiStatement",
]
