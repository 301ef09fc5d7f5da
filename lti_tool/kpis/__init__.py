"""Pure computations over the database: activity, time spent, video, ... No Flask imports."""
