"""SQLAlchemy 2.0 typed models, one module per area."""

from lti_tool.models.activity import (
    ActivityBlock,
    IngestFile,
    LearnerDay,
    LearnerResource,
    Video,
    VideoLearnerViews,
    WeeklyActivity,
)
from lti_tool.models.admin import AccessLog, AdminLoginAttempt, AdminUser
from lti_tool.models.api import ApiToken, XapiStatement
from lti_tool.models.course import (
    Course,
    CourseEvent,
    CourseSettings,
    Enrollment,
    Person,
    PersonIdentity,
)
from lti_tool.models.lms import (
    Assignment,
    CourseBlock,
    CourseModule,
    DataSource,
    LmsCourseActivityDay,
    LmsLearnerActivityHour,
    LmsLearnerStats,
    ModuleProgress,
    Section,
    SectionMember,
    Submission,
)
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
    "AccessLog",
    "ActivityBlock",
    "AdminLoginAttempt",
    "AdminUser",
    "ApiToken",
    "Assignment",
    "Course",
    "CourseBlock",
    "CourseEvent",
    "CourseModule",
    "CourseSettings",
    "DataSource",
    "Enrollment",
    "IngestFile",
    "JobSlot",
    "LaunchError",
    "LearnerDay",
    "LearnerResource",
    "LmsCourseActivityDay",
    "LmsLearnerActivityHour",
    "LmsLearnerStats",
    "LtiDeployment",
    "LtiRegistration",
    "LtiStoreEntry",
    "ModuleProgress",
    "Person",
    "PersonIdentity",
    "Platform",
    "Section",
    "SectionMember",
    "Submission",
    "SyncRun",
    "ToolKey",
    "Video",
    "VideoLearnerViews",
    "WeeklyActivity",
    "XapiStatement",
]
