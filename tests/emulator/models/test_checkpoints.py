"""§15.8 checkpoints and model switching (§8); §15.9 clip skip."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from tests.emulator.conftest import SD15, SDXL, WORKER_FLAGS, EmulatorProcess, StartEmulator
from tests.emulator.helpers import SMALL, info_of


@pytest.fixture(scope="module")
def shared(module_emulator: StartEmulator) -> EmulatorProcess:
    return module_emulator()


@pytest.fixture
def emulator(shared: EmulatorProcess) -> EmulatorProcess:
    """The module's emulator, back to SD1.5 on the GPU with clip skip 1 in opts.data."""
    baseline = {"sd_model_checkpoint": SD15, "CLIP_stop_at_last_layers": 1}
    assert shared.post("/sdapi/v1/options", json=baseline).status_code == 200
    shared.post("/sdapi/v1/reload-checkpoint")
    return shared


HASHING_FLAGS = tuple(flag for flag in WORKER_FLAGS if flag != "--no-hashing")
SDXL_NAME = "jib_mix_illustrious_realistic_v2"


def test_sd_models_without_hashes_under_no_hashing(
    shared_emulator: EmulatorProcess, models_dir: Path
) -> None:
    # §15.8, §12: titles have no [hash]; hash and sha256 are null; config null
    assert shared_emulator.get("/sdapi/v1/sd-models").json() == [
        {"title": SD15, "model_name": "deliberate_v6", "hash": None, "sha256": None,
         "filename": str(models_dir / "checkpoints" / SD15), "config": None},
        {"title": SDXL, "model_name": SDXL_NAME, "hash": None, "sha256": None,
         "filename": str(models_dir / "checkpoints" / SDXL), "config": None},
    ]  # fmt: skip


def test_sd_models_with_hashes(a1111_emulator: StartEmulator, models_dir: Path) -> None:
    # §15.8, §2: title "name.safetensors [sha10]", hash = the 10-char sha256 prefix
    emulator = a1111_emulator(flags=HASHING_FLAGS)
    sha256 = hashlib.sha256((models_dir / "checkpoints" / SD15).read_bytes()).hexdigest()
    first = emulator.get("/sdapi/v1/sd-models").json()[0]
    assert first == {
        "title": f"{SD15} [{sha256[:10]}]", "model_name": "deliberate_v6", "hash": sha256[:10],
        "sha256": sha256,
        "filename": str(models_dir / "checkpoints" / SD15), "config": None,
    }  # fmt: skip
    info = info_of(emulator.txt2img(prompt="x", **SMALL))
    assert info["sd_model_hash"] == sha256[:10]
    assert f"Model hash: {sha256[:10]}, Model: deliberate_v6," in info["infotexts"][0]
    assert emulator.get("/sdapi/v1/options").json()["sd_model_checkpoint"] == f"{SD15} [{sha256[:10]}]"


def test_post_options_switches_checkpoint_behind_the_lock(emulator: EmulatorProcess) -> None:
    # §15.8, §8: exact alias, then a blocking load; POST /options -> null
    loads = emulator.stats()["checkpoint_loads"]
    response = emulator.post("/sdapi/v1/options", json={"sd_model_checkpoint": SDXL})
    assert (response.status_code, response.json()) == (200, None)
    assert emulator.stats()["checkpoint_loads"] == loads + 1
    assert emulator.stats()["loaded_model"] == SDXL
    assert emulator.get("/sdapi/v1/options").json()["sd_model_checkpoint"] == SDXL
    info = info_of(emulator.txt2img(prompt="x", **SMALL))
    assert info["sd_model_name"] == SDXL_NAME
    assert f"Model: {SDXL_NAME}," in info["infotexts"][0]
    # an alias (model_name) is accepted too; the same checkpoint does not load again
    assert emulator.post("/sdapi/v1/options", json={"sd_model_checkpoint": SDXL_NAME}).status_code == 200
    assert emulator.stats()["checkpoint_loads"] == loads + 1


def test_override_checkpoint_stays_loaded_after_restore(emulator: EmulatorProcess) -> None:
    # §15.8, §8: the override loads B for the request, options show A again, B stays loaded,
    # so alternating requests load a checkpoint every time (the ping-pong cost is counted)
    base = emulator.stats()["checkpoint_loads"]
    base_sdxl = emulator.stats()["checkpoint_loads_by_name"].get(SDXL, 0)
    response = emulator.txt2img(prompt="x", override_settings={"sd_model_checkpoint": SDXL}, **SMALL)
    assert info_of(response)["sd_model_name"] == SDXL_NAME
    assert emulator.get("/sdapi/v1/options").json()["sd_model_checkpoint"] == SD15
    assert emulator.stats()["loaded_model"] == SDXL
    assert info_of(emulator.txt2img(prompt="x", **SMALL))["sd_model_name"] == "deliberate_v6"
    emulator.txt2img(prompt="x", override_settings={"sd_model_checkpoint": SDXL}, **SMALL)
    stats = emulator.stats()
    assert stats["checkpoint_loads"] == base + 3
    assert stats["checkpoint_loads_by_name"][SDXL] == base_sdxl + 2
    assert stats["checkpoint_load_seconds"] > 0


def test_unknown_override_checkpoint_is_silently_ignored(emulator: EmulatorProcess) -> None:
    # §15.8, §8, §4: dropped from the request's own dict, so the `parameters` echo loses it too
    overrides = {"sd_model_checkpoint": "nope", "CLIP_stop_at_last_layers": 1}
    response = emulator.txt2img(prompt="x", override_settings=overrides, **SMALL)
    assert response.status_code == 200
    assert info_of(response)["sd_model_name"] == "deliberate_v6"
    assert response.json()["parameters"]["override_settings"] == {"CLIP_stop_at_last_layers": 1}


def test_refresh_checkpoints_finds_new_files(
    a1111_emulator: StartEmulator, models_dir: Path, tmp_path: Path
) -> None:
    # §15.8, §2: refresh-checkpoints -> null, under the queue lock
    folder = tmp_path / "ckpts"
    folder.mkdir()
    shutil.copy(models_dir / "checkpoints" / SD15, folder / SD15)
    emulator = a1111_emulator("--ckpt-dir", str(folder), ckpt=None)
    assert [m["title"] for m in emulator.get("/sdapi/v1/sd-models").json()] == [SD15]
    shutil.copy(models_dir / "checkpoints" / SDXL, folder / "new_model.safetensors")
    response = emulator.post("/sdapi/v1/refresh-checkpoints")
    assert (response.status_code, response.json()) == (200, None)
    assert [m["title"] for m in emulator.get("/sdapi/v1/sd-models").json()] == [SD15, "new_model.safetensors"]


def test_refresh_points_the_option_back_at_ckpt(emulator: EmulatorProcess) -> None:
    # §8, sd_models.list_models: with --ckpt, every refresh sets sd_model_checkpoint to it again, so the
    # next plain request reloads the --ckpt model
    emulator.post("/sdapi/v1/options", json={"sd_model_checkpoint": SDXL})
    emulator.post("/sdapi/v1/refresh-checkpoints")
    assert emulator.get("/sdapi/v1/options").json()["sd_model_checkpoint"] == SD15
    assert emulator.stats()["loaded_model"] == SDXL
    assert info_of(emulator.txt2img(prompt="x", **SMALL))["sd_model_name"] == "deliberate_v6"


def test_first_checkpoint_is_loaded_without_ckpt(a1111_emulator: StartEmulator) -> None:
    # §1, §12: without --ckpt the first checkpoint listed (natural order) is loaded
    emulator = a1111_emulator(ckpt=None)
    assert emulator.stats()["loaded_model"] == SD15
    assert emulator.get("/sdapi/v1/options").json()["sd_model_checkpoint"] == SD15


def test_unload_then_generate_fails_until_reload(emulator: EmulatorProcess) -> None:
    # §8, §2: unload-checkpoint -> {}; reload_model_weights does not move the model back, so
    # generation fails until reload-checkpoint -> {}
    assert emulator.post("/sdapi/v1/unload-checkpoint").json() == {}
    assert emulator.get("/sdapi/v1/memory").json()["cuda"]["allocated"]["current"] == 0
    failed = emulator.txt2img(prompt="x", **SMALL)
    assert (failed.status_code, failed.json()["error"]) == (500, "RuntimeError")
    assert emulator.post("/sdapi/v1/reload-checkpoint").json() == {}
    assert emulator.get("/sdapi/v1/memory").json()["cuda"]["allocated"]["current"] > 2 * 1024**3
    assert emulator.txt2img(prompt="x", **SMALL).status_code == 200


def test_clip_skip_override_is_shown_and_restored(emulator: EmulatorProcess) -> None:
    # §15.9, §8: info.clip_skip = N and infotext "Clip skip: N"; restored afterwards when the key is
    # in opts.data (a POST /options baseline puts it there)
    info = info_of(emulator.txt2img(prompt="x", override_settings={"CLIP_stop_at_last_layers": 2}, **SMALL))
    assert info["clip_skip"] == 2
    assert ", Clip skip: 2, " in info["infotexts"][0]
    after = info_of(emulator.txt2img(prompt="x", **SMALL))
    assert after["clip_skip"] == 1
    assert "Clip skip" not in after["infotexts"][0]  # only shown when > 1 (§8)
    assert emulator.get("/sdapi/v1/options").json()["CLIP_stop_at_last_layers"] == 1


def test_clip_skip_override_persists_when_key_was_never_set(a1111_emulator: StartEmulator) -> None:
    # §8 caveat: a key absent from opts.data (fresh install, no config.json) is not restored
    emulator = a1111_emulator()
    emulator.txt2img(prompt="x", override_settings={"CLIP_stop_at_last_layers": 2}, **SMALL)
    assert info_of(emulator.txt2img(prompt="x", **SMALL))["clip_skip"] == 2
    assert emulator.get("/sdapi/v1/options").json()["CLIP_stop_at_last_layers"] == 2


def test_override_not_restored_when_asked(emulator: EmulatorProcess) -> None:
    # §3, §8: override_settings_restore_afterwards=false keeps the override
    emulator.txt2img(
        prompt="x", override_settings={"CLIP_stop_at_last_layers": 3},
        override_settings_restore_afterwards=False,
        **SMALL,
    )  # fmt: skip
    assert info_of(emulator.txt2img(prompt="x", **SMALL))["clip_skip"] == 3


def test_clip_skip_from_infotext_field(emulator: EmulatorProcess) -> None:
    # §8, §3: `infotext` containing "Clip skip: 2" becomes an override; it fills unset fields only
    text = "a castle\nSteps: 3, Sampler: Euler a, CFG scale: 5.0, Seed: 11, Size: 64x64, Clip skip: 2"
    response = emulator.txt2img(infotext=text, steps=2)
    info = info_of(response)
    assert (info["prompt"], info["seed"], info["cfg_scale"], info["steps"]) == ("a castle", 11, 5.0, 2)
    assert (info["width"], info["height"], info["sampler_name"], info["clip_skip"]) == (64, 64, "Euler a", 2)
    assert response.json()["parameters"]["override_settings"] == {"CLIP_stop_at_last_layers": 2}
