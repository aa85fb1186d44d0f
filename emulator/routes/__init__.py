"""The HTTP face of the stand-in: A1111's routes, request parsing, error envelope and auth, and the
emulator's own admin API."""
