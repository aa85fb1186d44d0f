"""Running the emulator: uvicorn on A1111's host and port, a listener that faults can close, the
initial checkpoint load in the background."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import sys
import time
from collections.abc import Sequence

import uvicorn

from emulator.app import create_app
from emulator.cli import ConfigError, parse_config
from emulator.faults import FaultKind
from emulator.runtime import build_runtime

log = logging.getLogger("emulator")


class EmulatorServer(uvicorn.Server):
    """uvicorn.Server that can stop listening for a while (the `refuse_connections` fault)."""

    async def refuse_for(self, seconds: float) -> None:
        """Close the listening socket (new connections are refused) and drop idle keep-alive ones,
        then listen again on the same address after `seconds` real seconds."""
        for server in self.servers:
            server.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        await asyncio.sleep(seconds)
        if self.should_exit:
            return
        factory = functools.partial(
            self.config.http_protocol_class,  # type: ignore[call-arg]
            config=self.config,
            server_state=self.server_state,
            app_state=self.lifespan.state,
        )
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            factory, host=self.config.host, port=self.config.port, backlog=self.config.backlog
        )
        self.servers = [server]


class _ServerRef:
    """Lets the app reach the server that is created after it."""

    def __init__(self) -> None:
        self.server: EmulatorServer | None = None

    async def refuse_for(self, seconds: float) -> None:
        if self.server is not None:
            await self.server.refuse_for(seconds)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of `python -m emulator`: parse, start listening, load the model in the background."""
    try:
        config = parse_config(sys.argv[1:] if argv is None else argv, os.environ)
    except ConfigError as exc:
        print(f"emulator: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for spec in config.faults:
        if spec.kind is FaultKind.SLOW_STARTUP:
            log.warning("injected slow start-up: listening in %.2f s", spec.seconds)
            time.sleep(spec.seconds)
    runtime = build_runtime(config)
    ref = _ServerRef()
    # host=None is what A1111 passes without --listen or --server-name; uvicorn's annotation says str,
    # but it hands the value to asyncio's create_server, where None means every interface
    uv_config = uvicorn.Config(
        create_app(runtime, listener=ref), host=config.host, port=config.port,  # type: ignore[arg-type]
        log_level=config.log_level, timeout_keep_alive=config.timeout_keep_alive_s, lifespan="off",
        timeout_graceful_shutdown=2,
    )  # fmt: skip
    server = EmulatorServer(uv_config)
    ref.server = server
    runtime.loader.start()
    server.run()
    # A hung request thread must not keep the process alive after shutdown.
    os._exit(0)
