"""Cross-cutting code that knows no domain."""
