"""The auth use cases, one module each: logging in and token rotation (logins), passwords
(passwords), email verification (verification), and the emailed single-use tokens both of
the last two send (one_time_tokens). Services add and flush; the request commits."""
