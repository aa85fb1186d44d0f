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
    expected = {
        "redis",
        "postgres",
        "migrate",
        "api",
        "flower",
        "sweeper",
        "dispatcher",
        "workers",
        "prometheus",
        "grafana",
    }
    assert expected <= set(compose["services"])


def test_references_resolve(compose: dict[str, Any]) -> None:
    services = compose["services"]
    volumes = set(compose.get("volumes") or {})
    for name, service in services.items():
        for dependency in service.get("depends_on") or {}:
            assert dependency in services, f"{name} depends on unknown {dependency}"
        for mount in service.get("volumes") or []:
            source = mount.split(":")[0] if isinstance(mount, str) else mount["source"]
            if source.startswith("."):  # a file or folder of this repository, mounted read-only
                assert (COMPOSE.parent / source).exists(), f"{name} mounts missing {source}"
            else:
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
    for name in ("api", "sweeper", "workers"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_flower_is_behind_basic_auth(compose: dict[str, Any]) -> None:
    assert "FLOWER_BASIC_AUTH" in compose["services"]["flower"]["environment"]


def test_one_launcher_runs_every_gpu_of_the_host_and_drains_within_the_stop_grace(
    compose: dict[str, Any],
) -> None:
    service = compose["services"]["workers"]
    args, rest = _parser().parse_known_args(service["command"][1:])
    assert not rest and args.gpus == "all" and args.run.__name__ == "_worker"
    with mock.patch.dict("os.environ", _env(service), clear=True):
        settings = WorkerSettings()
    assert settings.checkpoints and all(checkpoint_queue(c) for c in settings.checkpoints)
    assert settings.host_name == service["hostname"]  # Prometheus reaches <host>:<metrics port>
    devices = service["deploy"]["resources"]["reservations"]["devices"][0]
    assert devices["count"] == "all" and devices["capabilities"] == ["gpu"]
    # The drain grace, the interrupt and the launcher's margin all fit in the stop grace period
    assert int(service["stop_grace_period"].rstrip("m")) * 60 >= settings.drain_grace_s + 60


def test_prometheus_scrapes_the_api_and_finds_every_worker_through_it() -> None:
    import yaml

    from api.app import create_app

    config = yaml.safe_load((COMPOSE.parent / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["sdfleet-api"]["static_configs"][0]["targets"] == ["api:8000"]
    discovery = jobs["sdfleet-workers"]["http_sd_configs"][0]["url"]
    assert discovery.startswith("http://api:8000/")
    assert discovery.removeprefix("http://api:8000") in create_app().openapi()["paths"]


def test_dockerfiles_copy_what_exists() -> None:
    for dockerfile in (ROOT / "compose").glob("Dockerfile*"):
        for line in dockerfile.read_text().splitlines():
            if line.startswith("COPY "):
                for source in line.split()[1:-1]:
                    assert (ROOT / source).exists(), f"{dockerfile.name}: {source} missing"
        if "SDFLEET_A1111_COMMAND" in dockerfile.read_text():
            value = re.search(r"SDFLEET_A1111_COMMAND='([^']+)'", dockerfile.read_text())
            assert value and json.loads(value.group(1))[-1].endswith("webui.py")
