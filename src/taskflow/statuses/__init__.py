"""Workflow statuses: the ordered columns of a project's board."""
