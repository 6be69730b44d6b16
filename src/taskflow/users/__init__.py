"""Accounts: profiles, roles and the admin's view of them."""
