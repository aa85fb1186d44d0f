"""The compose files are right without Docker: parsed and validated by a Compose-spec parser (the Rust
`compose_spec` crate's bindings), then checked against sdfleet itself: commands, settings, references."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from compose_spec import PyOptions

from worker.cli.main import _parser
from worker.jobs.queues import checkpoint_queue
from worker.settings import WorkerSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose" / "docker-compose.yml"
PLACEHOLDER = re.compile(r"\$\{(\w+):\?[^}]*\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    parsed = PyOptions(apply_merge=True).from_yaml(COMPOSE.read_text())
    parsed.validate()
    return parsed.to_dict()


def _env(service: dict[str, Any]) -> dict[str, str]:
    return {k: PLACEHOLDER.sub("x", str(v)) for k, v in (service.get("environment") or {}).items()}


def test_services_cover_the_stack(compose: dict[str, Any]) -> None:
    assert {"redis", "postgres", "migrate", "api", "flower", "sweeper", "dispatcher"} <= set(
        compose["services"]
    )
    assert any(name.startswith("worker-gpu") for name in compose["services"])


def test_references_resolve(compose: dict[str, Any]) -> None:
    services = compose["services"]
    volumes = set(compose.get("volumes") or {})
    for name, service in services.items():
        for dependency in service.get("depends_on") or {}:
            assert dependency in services, f"{name} depends on unknown {dependency}"
        for mount in service.get("volumes") or []:
            source = mount.split(":")[0] if isinstance(mount, str) else mount["source"]
            assert source in volumes, f"{name} mounts undeclared volume {source}"


def test_every_sdfleet_command_exists(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        command = service.get("command") or []
        if command[:1] == ["sdfleet"]:
            args, rest = _parser().parse_known_args(command[1:])
            assert not rest, f"{name}: unknown arguments {rest}"


def test_migrations_run_once_before_api_and_workers(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["migrate"]["command"] == ["sdfleet", "migrate"]
    assert services["migrate"]["restart"] == "no"
    for name in ("api", "sweeper", "worker-gpu0"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_flower_is_behind_basic_auth(compose: dict[str, Any]) -> None:
    assert "FLOWER_BASIC_AUTH" in compose["services"]["flower"]["environment"]


def test_workers_are_pinned_to_distinct_gpus_with_valid_settings(compose: dict[str, Any]) -> None:
    seen: set[tuple[str, str]] = set()
    for name, service in compose["services"].items():
        if not name.startswith("worker-gpu"):
            continue
        env = _env(service)
        with mock.patch.dict("os.environ", env, clear=True):
            settings = WorkerSettings()
        devices = service["deploy"]["resources"]["reservations"]["devices"][0]["device_ids"]
        assert devices == [str(settings.gpu_index)], name
        assert settings.checkpoints and all(checkpoint_queue(c) for c in settings.checkpoints)
        key = (settings.worker_name, settings.a1111_url)
        assert key not in seen
        seen.add(key)
        assert int(service["stop_grace_period"].rstrip("m")) * 60 >= settings.task_time_limit_s


def test_dockerfiles_copy_what_exists() -> None:
    for dockerfile in (ROOT / "compose").glob("Dockerfile*"):
        for line in dockerfile.read_text().splitlines():
            if line.startswith("COPY "):
                for source in line.split()[1:-1]:
                    assert (ROOT / source).exists(), f"{dockerfile.name}: {source} missing"
        if "SDFLEET_A1111_COMMAND" in dockerfile.read_text():
            value = re.search(r"SDFLEET_A1111_COMMAND='([^']+)'", dockerfile.read_text())
            assert value and json.loads(value.group(1))[-1].endswith("webui.py")
