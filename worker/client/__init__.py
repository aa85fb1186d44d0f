"""A small typed HTTP client of the sdfleet API, for applications that do not share the broker:
`SdfleetClient` (blocking) and `AsyncSdfleetClient` (asyncio), over httpx; events through httpx-sse.
Errors are sdfleet's own (`worker.errors`)."""

from worker.client.async_client import AsyncSdfleetClient
from worker.client.common import JobEvent
from worker.client.sync_client import SdfleetClient

__all__ = ["AsyncSdfleetClient", "JobEvent", "SdfleetClient"]
