"""Webhooks: a finished job POSTed to its callback URL, signed, retried, logged (docs/jobs.md)."""
