"""§15.12 readiness and misc (§1, §2), and the command line (§12)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from emulator.cli import parse_config
from tests.emulator.conftest import EmulatorProcess, StartEmulator
from tests.emulator.helpers import SMALL, Background, info_of, poll_until

WORKER_COMMAND = (
    "--xformers --no-half-vae --skip-python-version-check --skip-torch-cuda-test --skip-install "
    "--ckpt-dir /vol/models/checkpoints --lora-dir /vol/models/loras --embeddings-dir /vol/models/embeddings "
    "--ckpt /model.safetensors --opt-sdp-attention --disable-safe-unpickle --port 3000 --api --nowebui "
    "--skip-version-check --no-hashing --no-download-sd-model"
).split()


def test_parses_the_workers_full_command_line() -> None:
    # §1, §12: every flag our workers pass to webui.py is accepted
    config = parse_config(WORKER_COMMAND, {})
    assert (config.host, config.port) == (None, 3000)  # every interface: see test_binding.py
    assert config.ckpt_dir == Path("/vol/models/checkpoints") and config.ckpt == Path("/model.safetensors")
    assert config.lora_dir == Path("/vol/models/loras") and config.hashing is False
    assert config.linear_attention is True and config.precision.no_half_vae is True
    assert config.a1111_flags["nowebui"] is True and config.a1111_flags["api"] is True


def test_defaults_port_7861_and_the_host_uvicorn_is_given(tmp_path: Path) -> None:
    # webui.py:41-45, initialize_util.py:10-16: --server-name, else 0.0.0.0 with --listen, else None
    assert (parse_config([], {}).port, parse_config([], {}).host) == (7861, None)
    assert parse_config(["--listen", "--device-id", "1"], {}).host == "0.0.0.0"
    assert parse_config(["--server-name", "10.0.0.5"], {}).host == "10.0.0.5"
    assert parse_config(["--server-name", "10.0.0.5", "--listen"], {}).host == "10.0.0.5"
    assert parse_config(["--server-name", "", "--listen"], {}).host == "0.0.0.0"  # `if server_name:`


def test_unknown_flags_are_ignored_and_emulator_knobs_come_from_flags_or_env() -> None:
    # issue: parse_known_args style; --emu-* flags win over A1111_EMU_* variables
    env = {"A1111_EMU_TIME_SCALE": "0.5", "A1111_EMU_VRAM_MB": "8192", "A1111_EMU_LOAD_S": "3"}
    config = parse_config(["--some-future-flag", "--medvram", "--emu-vram-mb", "12288"], env)
    assert (config.time_scale, config.vram_mb) == (0.5, 12288.0)
    assert {arch.value: s for arch, s in config.load_s.items()} == {"sd15": 3.0, "sdxl": 3.0}
    assert config.a1111_flags["medvram"] is True


def test_sd_models_answers_before_the_model_is_loaded(a1111_emulator: StartEmulator) -> None:
    # §15.12, §1: the server listens at once; the first txt2img blocks until the load ends,
    # and until then /progress is idle (A1111 blocks before state.begin)
    emulator = a1111_emulator("--emu-time-scale", "1", "--emu-load-s", "2.5", loaded=False)
    assert emulator.get("/sdapi/v1/sd-models").status_code == 200
    assert emulator.stats()["model_loading"] is True
    start = time.monotonic()
    job = Background(lambda: emulator.txt2img(prompt="x", **SMALL))
    time.sleep(0.3)
    assert not job.done()
    assert emulator.get("/sdapi/v1/progress").json()["state"]["job_count"] == 0
    assert job.result().status_code == 200
    assert time.monotonic() - start > 1.0
    assert emulator.stats()["checkpoint_loads"] == 1


def test_small_responses_and_process_time_header(shared_emulator: EmulatorProcess) -> None:
    # §15.12, §2: interrupt -> {}, skip -> null, refresh-* -> null, X-Process-Time on every response
    assert shared_emulator.post("/sdapi/v1/interrupt").json() == {}
    assert shared_emulator.post("/sdapi/v1/skip").json() is None
    assert shared_emulator.post("/sdapi/v1/refresh-checkpoints").json() is None
    assert shared_emulator.post("/sdapi/v1/refresh-embeddings").json() is None
    response = shared_emulator.get("/sdapi/v1/sd-models")
    assert float(response.headers["x-process-time"]) >= 0
    assert "x-process-time" in shared_emulator.get("/nope").headers


def test_memory_shape(shared_emulator: EmulatorProcess) -> None:
    # §15.12, §2: {ram: {free, used, total},
    #              cuda: {system, active, allocated, reserved, inactive, events: {retries, oom}}}
    memory = shared_emulator.get("/sdapi/v1/memory").json()
    assert list(memory) == ["ram", "cuda"]
    assert set(memory["ram"]) == {"free", "used", "total"}
    cuda = memory["cuda"]
    assert list(cuda) == ["system", "active", "allocated", "reserved", "inactive", "events"]
    assert set(cuda["system"]) == {"free", "used", "total"}
    assert cuda["system"]["total"] == 24576 * 1024 * 1024
    for key in ("active", "allocated", "reserved", "inactive"):
        assert set(cuda[key]) == {"current", "peak"}
    assert cuda["events"] == {"retries": 0, "oom": 0}
    assert 2.0 < cuda["allocated"]["current"] / 1024**3 < 2.5  # SD1.5 weights, fp16 with an fp32 VAE


def test_cmd_flags_report_every_dest(shared_emulator: EmulatorProcess) -> None:
    # §2: vars(cmd_opts): every argparse dest with its value or default
    flags = shared_emulator.get("/sdapi/v1/cmd-flags").json()
    assert flags["nowebui"] is True and flags["xformers"] is True and flags["no_hashing"] is True
    assert flags["port"] == shared_emulator.port
    assert flags["listen"] is False and flags["api_auth"] is None and flags["timeout_keep_alive"] == 30
    assert flags["lora_dir"].endswith("loras") and flags["lyco_dir_backcompat"].endswith("LyCORIS")


def test_static_lists_and_openapi(shared_emulator: EmulatorProcess) -> None:
    # §2: the endpoints webuiapi's constructor and helpers call
    scripts = shared_emulator.get("/sdapi/v1/scripts").json()
    assert set(scripts) == {"txt2img", "img2img"} and "x/y/z plot" in scripts["txt2img"]
    assert shared_emulator.get("/sdapi/v1/upscalers").json()[0]["name"] == "None"
    assert shared_emulator.get("/sdapi/v1/sd-vae").json() == []
    assert shared_emulator.get("/sdapi/v1/embeddings").json() == {"loaded": {}, "skipped": {}}
    assert shared_emulator.get("/openapi.json").status_code == 200  # a bare FastAPI() (§1)


def test_embeddings_loaded_when_they_fit_the_model(a1111_emulator: StartEmulator, tmp_path: Path) -> None:
    # §2: /embeddings {loaded: {name: {step, sd_checkpoint, sd_checkpoint_name, shape, vectors}}, skipped}
    folder = tmp_path / "embeddings"
    folder.mkdir()
    save_file({"emb_params": np.zeros((2, 768), dtype=np.float16)}, str(folder / "easynegative.safetensors"))
    xl = {"clip_g": np.zeros((3, 1280), dtype=np.float16), "clip_l": np.zeros((3, 768), dtype=np.float16)}
    save_file(xl, str(folder / "xl_neg.safetensors"))
    body = a1111_emulator("--embeddings-dir", str(folder)).get("/sdapi/v1/embeddings").json()
    assert body["loaded"] == {
        "easynegative": {
            "step": None,
            "sd_checkpoint": None,
            "sd_checkpoint_name": None,
            "shape": 768,
            "vectors": 2,
        }
    }
    assert body["skipped"]["xl_neg"]["shape"] == 2048


def test_server_stop_routes_only_with_flag(a1111_emulator: StartEmulator) -> None:
    # §2: server-kill/restart/stop exist only with --api-server-stop; server-stop does nothing with --nowebui
    assert a1111_emulator().post("/sdapi/v1/server-stop").status_code == 404
    emulator = a1111_emulator("--api-server-stop")
    assert emulator.post("/sdapi/v1/server-stop").json() == "Stopping."
    assert emulator.post("/sdapi/v1/server-restart").status_code == 501
    emulator.post("/sdapi/v1/server-kill")
    poll_until(lambda: emulator.process.poll() is not None, timeout_s=5)
    assert emulator.process.returncode == 0


def test_hires_fix_runs_two_passes(shared_emulator: EmulatorProcess) -> None:
    # §3, §10: with denoising_strength the second pass runs at hr_scale; Size stays the first pass size
    response = shared_emulator.txt2img(
        prompt="x", enable_hr=True, denoising_strength=0.5, hr_scale=2, **SMALL
    )
    info = info_of(response)
    assert info["extra_generation_params"]["Hires upscale"] == 2.0
    assert "Size: 64x64, " in info["infotexts"][0] and "Denoising strength: 0.5" in info["infotexts"][0]
    from tests.emulator.helpers import decode_png

    assert decode_png(response.json()["images"][0]).size == (128, 128)


def test_options_report_every_known_key_with_defaults(shared_emulator: EmulatorProcess) -> None:
    # §8: GET /options returns every built-in key, defaults for the unset ones
    options = shared_emulator.get("/sdapi/v1/options").json()
    expected = {
        "sd_model_checkpoint": "deliberate_v6.safetensors", "sd_vae": "Automatic",
        "CLIP_stop_at_last_layers": 1,
        "sd_checkpoints_limit": 1, "sd_checkpoints_keep_in_cpu": True, "samples_format": "png",
        "samples_save": True, "enable_pnginfo": True, "return_grid": True, "add_model_hash_to_info": True,
        "add_model_name_to_info": True, "add_version_to_infotext": True, "live_previews_enable": True,
        "show_progress_every_n_steps": 10, "randn_source": "GPU", "eta_noise_seed_delta": 0,
    }  # fmt: skip
    assert {key: options[key] for key in expected} == expected
    assert "sd_checkpoint_hash" in options


def test_set_options_read_back_as_their_declared_type(a1111_emulator: StartEmulator) -> None:
    # GET /options validates set values against the option's default type, int widened to float (seen on
    # the real A1111 v1.10.1: clip skip set to 1 reads back 1.0); unset options keep their default's type
    emulator = a1111_emulator()
    posted = {"CLIP_stop_at_last_layers": 2, "live_previews_enable": 0, "samples_format": "jpg"}
    assert emulator.post("/sdapi/v1/options", json=posted).status_code == 200
    options = emulator.get("/sdapi/v1/options").json()
    read_back = {key: (options[key], type(options[key]).__name__) for key in posted}
    assert read_back == {
        "CLIP_stop_at_last_layers": (2.0, "float"),
        "live_previews_enable": (False, "bool"),
        "samples_format": ("jpg", "str"),
    }
    unset = {
        key: type(options[key]).__name__ for key in ("sd_checkpoints_limit", "live_preview_refresh_period")
    }
    assert unset == {"sd_checkpoints_limit": "int", "live_preview_refresh_period": "int"}


def test_restricted_options_are_skipped_silently(a1111_emulator: StartEmulator) -> None:
    # §8: options marked restrict_api are silently skipped by POST /options
    emulator = a1111_emulator()
    response = emulator.post("/sdapi/v1/options", json={"api_enable_requests": False, "send_seed": False})
    assert (response.status_code, response.json()) == (200, None)
    options = emulator.get("/sdapi/v1/options").json()
    assert (options["api_enable_requests"], options["send_seed"]) == (True, False)
