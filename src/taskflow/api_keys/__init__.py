"""Personal access tokens with scopes, for scripts and integrations."""
