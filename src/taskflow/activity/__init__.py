"""What happened in a project, by whom: the activity event log."""
