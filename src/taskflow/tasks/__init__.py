"""Tasks: filters, bulk updates, moves and safe concurrent edits."""
