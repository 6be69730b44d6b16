"""TaskFlow: a self-hostable task and project management API."""

__version__ = "0.1.0"
