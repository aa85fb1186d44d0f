"""The simulated device: its memory and out-of-memory errors, what work costs in time, the clock that
scales it, and the telemetry a GPU reports."""
