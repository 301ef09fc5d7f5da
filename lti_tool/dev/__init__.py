"""Development only: the pretend LMS that launches the tool, and the demo course's data.

Nothing here runs in production: the LMS's blueprint is registered only when
DEV_PLATFORM_ENABLED (the development configuration), and `flask demo load` refuses elsewhere.
"""
