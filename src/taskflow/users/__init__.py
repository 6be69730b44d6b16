"""Accounts: profiles, roles and the admin's view of them, and what each account holds: its
logins (refresh tokens), its emailed single-use tokens and the email that verifies an address."""
