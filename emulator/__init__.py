"""A CPU-only stand-in for AUTOMATIC1111 webui's HTTP API (`python -m emulator`); see docs/emulator.md."""
