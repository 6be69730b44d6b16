"""Comments on tasks: a conversation under each task, seen by whoever sees the task."""
