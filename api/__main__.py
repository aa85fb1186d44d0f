"""`python -m api`: the producer API under uvicorn, with `ApiSettings` from the environment."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import uvicorn

from api.app import create_app
from api.settings import ApiSettings
from worker.monitoring.api_metrics import share_between_processes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api", description=__doc__)
    parser.add_argument("--host", help="default: SDFLEET_API_HOST")
    parser.add_argument("--port", type=int, help="default: SDFLEET_API_PORT")
    args = parser.parse_args(argv)
    settings = ApiSettings()
    updates = {k: v for k, v in (("api_host", args.host), ("api_port", args.port)) if v is not None}
    settings = settings.model_copy(update=updates)
    if settings.api_processes == 1:
        uvicorn.run(create_app(settings), host=settings.api_host, port=settings.api_port, access_log=False)
    else:  # each process builds its app (and reads its settings) itself
        share_between_processes(settings.state_dir / f"api-metrics-{settings.api_port}")
        uvicorn.run(
            "api.app:create_app",
            factory=True,
            host=settings.api_host,
            port=settings.api_port,
            workers=settings.api_processes,
            access_log=False,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
