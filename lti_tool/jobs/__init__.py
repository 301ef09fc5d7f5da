"""Work on a timetable: the scheduler process, its lock and its job table (scheduler)."""
