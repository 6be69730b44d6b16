"""The auth use cases, one module each: logging in and token rotation (logins), passwords
(passwords) and email verification (verification). The emailed single-use tokens they
spend, and the first verification email, belong to the account (taskflow.users). Services
add and flush; the request commits."""
