from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.worker.a1111.children import wait_for
from tests.worker.a1111.conftest import Scripts
from worker.a1111.launch import a1111_log_path, launch_supervisor, local_port
from worker.errors import ConfigurationError
from worker.settings import WorkerSettings


def settings_for(tmp_path: Path, **values: object) -> WorkerSettings:
    fields: dict[str, object] = {
        "models_dir": tmp_path / "volume",
        "state_dir": tmp_path / "state",
        "a1111_url": "http://127.0.0.1:7861",
        "checkpoints": ["deliberate_v6"],
    }
    fields.update(values)
    return WorkerSettings.model_validate(fields)


def test_a_worker_launches_its_a1111_from_its_settings(
    scripts: Scripts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, standin_port: int
) -> None:
    argv_file = tmp_path / "argv.json"
    monkeypatch.setenv("STANDIN_ARGV_FILE", str(argv_file))
    settings = settings_for(
        tmp_path,
        a1111_url=f"http://127.0.0.1:{standin_port}",
        a1111_command=[sys.executable, str(scripts.standin)],
        gpu_index=2,
    )

    supervisor = launch_supervisor(settings)
    try:
        assert wait_for(argv_file.exists)
        seen = json.loads(argv_file.read_text())
    finally:
        supervisor.stop()

    volume = tmp_path / "volume"
    assert seen["cuda"] == "2"
    assert seen["argv"][seen["argv"].index("--ckpt") + 1] == str(
        volume / "models" / "checkpoints" / "deliberate_v6.safetensors"
    )
    assert seen["argv"][seen["argv"].index("--port") + 1] == str(standin_port)
    assert seen["argv"][seen["argv"].index("--lora-dir") + 1] == str(volume / "models" / "loras")
    assert supervisor.cwd == scripts.standin.parent
    assert a1111_log_path(settings) == tmp_path / "state" / "logs" / "a1111-gpu2.log"
    assert "starting A1111" in a1111_log_path(settings).read_text()


def test_not_started_on_request(tmp_path: Path) -> None:
    supervisor = launch_supervisor(
        settings_for(tmp_path, a1111_command=["python", "-m", "emulator"]), start=False
    )

    assert supervisor.pid is None and supervisor.cwd is None
    assert supervisor.cmd[:3] == ["python", "-m", "emulator"] and "--nowebui" in supervisor.cmd


def test_no_checkpoint_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="SDFLEET_CHECKPOINTS"):
        launch_supervisor(settings_for(tmp_path, checkpoints=[]), start=False)


@pytest.mark.parametrize(
    ("url", "port"),
    [
        ("http://127.0.0.1:7861", 7861),
        ("http://localhost:3000/", 3000),
        ("http://[::1]:7862", 7862),
        ("http://127.0.0.1", None),
        ("http://gpu-box:7861", None),
        ("http://10.0.0.5:7861", None),
    ],
)
def test_a_launched_a1111_is_on_this_host(url: str, port: int | None) -> None:
    if port is None:
        with pytest.raises(ConfigurationError, match="must be http://127.0.0.1:<port>"):
            local_port(url)
    else:
        assert local_port(url) == port


def test_operator_flags_come_after_the_workers_own(tmp_path: Path) -> None:
    settings = settings_for(
        tmp_path,
        a1111_command=["python", "webui.py"],
        a1111_extra_args="--use-cpu all --no-half --data-dir '/srv/a1111 data'",
    )

    cmd = launch_supervisor(settings, start=False).cmd

    assert cmd[-5:] == ["--use-cpu", "all", "--no-half", "--data-dir", "/srv/a1111 data"]
    assert cmd.index("--no-download-sd-model") < cmd.index("--use-cpu")


@pytest.mark.parametrize(
    "extra",
    [["--port", "9"], ["--listen"], ["--server-name", "0.0.0.0"], ["--api-auth", "a:b"], ["--share"],
     ["--ckpt-dir=/elsewhere"], ["--vae-dir", "/pickles"], ["--hypernetwork-dir", "/x"]],
)  # fmt: skip
def test_operator_flags_cannot_take_back_the_workers_own(tmp_path: Path, extra: list[str]) -> None:
    with pytest.raises(ValueError, match="where A1111 listens, who may call it and which models it reads"):
        settings_for(tmp_path, a1111_extra_args=extra)
