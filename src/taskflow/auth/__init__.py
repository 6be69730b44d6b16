"""Logging in, tokens, lockout, password reset and email verification."""
