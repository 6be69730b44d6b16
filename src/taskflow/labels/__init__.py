"""Labels: named colours of a project that its tasks carry."""
