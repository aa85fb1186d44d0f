"""The address A1111 v1.10.1 listens on under `--nowebui`, read from the kernel's socket tables.

`webui.py:41-45` passes `initialize_util.gradio_server_name()` (`initialize_util.py:10-16`: `--server-name`,
else "0.0.0.0" with `--listen`, else None) to `Api.launch`, which calls `uvicorn.run(app, host=...)`
(`modules/api/api.py:905-915`). uvicorn keeps None and hands it to asyncio's `create_server` (uvicorn 0.30.3
`server.py:160-166`; its log then says 0.0.0.0, `:202`), and `create_server(host=None)` listens on every
interface, IPv4 and IPv6. So a stock `--nowebui` A1111 is reachable from the network even without
`--listen`; reference §1's "uvicorn's own default, 127.0.0.1" does not hold, as uvicorn's default applies
only when no host is passed.
"""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path

import httpx
import pytest

from tests.emulator.conftest import EmulatorProcess, StartEmulator

_LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp's `st` column


def listening_on(port: int) -> set[str]:
    """The local addresses with a listening TCP socket on `port`, from /proc/net/tcp and tcp6."""
    found: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            address, port_hex = fields[1].split(":")
            if fields[3] != _LISTEN or int(port_hex, 16) != port:
                continue
            raw = bytes.fromhex(address)  # each 32-bit word in host (little-endian) order
            words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            found.add(str(ipaddress.ip_address(words)))
    return found


def has_ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


def outside_address() -> str | None:
    """A non-loopback IPv4 address of this host (no packet is sent), or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("198.51.100.1", 9))  # TEST-NET-2: routes, sends nothing
        except OSError:
            return None
        address: str = probe.getsockname()[0]
    return None if ipaddress.ip_address(address).is_loopback else address


pytestmark = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux's /proc/net/tcp")


def test_without_listen_or_server_name_it_listens_on_every_interface(a1111_emulator: StartEmulator) -> None:
    emulator = a1111_emulator(loaded=False)
    assert listening_on(emulator.port) == ({"0.0.0.0", "::"} if has_ipv6() else {"0.0.0.0"})
    assert emulator.get("/emulator/v1/config").json()["host"] is None


def test_listen_is_ipv4_every_interface(a1111_emulator: StartEmulator) -> None:
    emulator = a1111_emulator("--listen", loaded=False)
    assert listening_on(emulator.port) == {"0.0.0.0"}


def test_server_name_wins_over_listen(a1111_emulator: StartEmulator) -> None:
    emulator = a1111_emulator("--server-name", "127.0.0.1", "--listen", loaded=False)
    assert listening_on(emulator.port) == {"127.0.0.1"}


def test_only_this_host_changes_faults_unless_exposed_on_purpose(a1111_emulator: StartEmulator) -> None:
    # Given a client reaching the default (every-interface) server through a non-loopback address
    address = outside_address()
    if address is None:
        pytest.skip("this host has no non-loopback IPv4 address")
    emulator = a1111_emulator(loaded=False)
    with httpx.Client(base_url=f"http://{address}:{emulator.port}", timeout=10) as remote:
        # Then A1111's API and the admin reads answer it, but fault changes are refused
        assert remote.get("/sdapi/v1/sd-models").status_code == 200
        assert remote.get("/emulator/v1/stats").status_code == 200
        refused = remote.post("/emulator/v1/faults", json={"kind": "crash"})
        assert refused.status_code == 403 and "only from this host" in refused.json()["detail"]
        assert remote.delete("/emulator/v1/faults").status_code == 403
    assert emulator.get("/emulator/v1/faults").json() == {"faults": []}
    assert emulator.post("/emulator/v1/faults", json={"kind": "slow"}).status_code == 200
    # And with --listen the operator exposed it on purpose: anyone may change faults
    exposed: EmulatorProcess = a1111_emulator("--listen", loaded=False)
    with httpx.Client(base_url=f"http://{address}:{exposed.port}", timeout=10) as remote:
        assert remote.post("/emulator/v1/faults", json={"kind": "slow"}).status_code == 200
