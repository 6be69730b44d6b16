"""Who is calling and what its credential allows: the low layer every domain builds on.

It knows users and API keys only as rows (their models); the flows that issue and manage
credentials (login, tokens, keys) live above it, in auth and api_keys.
"""
