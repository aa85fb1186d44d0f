"""§15.3 the error envelope (§9), with its status codes; the server stays usable afterwards."""

from __future__ import annotations

import pytest

from tests.emulator.conftest import SDXL, EmulatorProcess, StartEmulator
from tests.emulator.helpers import SMALL, info_of

ENVELOPE_KEYS = ["error", "detail", "body", "errors"]


@pytest.fixture(scope="module")
def emulator(module_emulator: StartEmulator) -> EmulatorProcess:
    """A default emulator shared by the tests that leave it as they found it."""
    return module_emulator()


def test_oom_gives_500_envelope_and_counts_in_memory(a1111_emulator: StartEmulator) -> None:
    # §15.3, §9: OOM -> 500 {"error":"OutOfMemoryError","detail":"","body":"",
    #                         "errors":"CUDA out of memory. Tried to allocate ..."}
    emulator = a1111_emulator("--emu-vram-mb", "4096")
    before = emulator.get("/sdapi/v1/memory").json()["cuda"]["events"]["oom"]
    response = emulator.txt2img(prompt="x", batch_size=16, steps=2)
    assert response.status_code == 500
    body = response.json()
    assert list(body) == ENVELOPE_KEYS
    assert (body["error"], body["detail"], body["body"]) == ("OutOfMemoryError", "", "")
    assert body["errors"].startswith("CUDA out of memory. Tried to allocate ")
    assert "GPU 0 has a total capacity of 4.00 GiB of which " in body["errors"]
    assert emulator.get("/sdapi/v1/memory").json()["cuda"]["events"]["oom"] == before + 1
    # usable afterwards: idle state, lock released, a smaller batch runs (§9 "After an OOM")
    progress = emulator.get("/sdapi/v1/progress").json()
    assert (progress["progress"], progress["state"]["job"], progress["state"]["job_count"]) == (0.0, "", 0)
    assert emulator.txt2img(prompt="x", batch_size=1, steps=2).status_code == 200


def test_post_options_unknown_checkpoint_is_500_runtime_error(emulator: EmulatorProcess) -> None:
    # §15.3, §8: exact-alias check first; nothing is applied
    response = emulator.post(
        "/sdapi/v1/options", json={"sd_model_checkpoint": "nope.safetensors", "send_size": False}
    )
    assert response.status_code == 500
    assert response.json() == {
        "error": "RuntimeError", "detail": "", "body": "", "errors": "model 'nope.safetensors' not found"
    }  # fmt: skip
    assert emulator.get("/sdapi/v1/options").json()["send_size"] is True
    assert emulator.get("/sdapi/v1/sd-models").status_code == 200


def test_post_options_unknown_key_is_500_key_error(emulator: EmulatorProcess) -> None:
    # §8: opts.set raises KeyError; keys before it are already applied
    response = emulator.post("/sdapi/v1/options", json={"send_seed": False, "no_such_option": 1})
    assert response.status_code == 500
    assert response.json() == {"error": "KeyError", "detail": "", "body": "", "errors": "'no_such_option'"}
    assert emulator.get("/sdapi/v1/options").json()["send_seed"] is False


def test_http_exception_sets_detail_and_empty_errors(emulator: EmulatorProcess) -> None:
    # §15.3, §9: HTTPException -> `detail` set, `errors` "" (unknown script: 422)
    response = emulator.txt2img(prompt="x", script_name="no such script", **SMALL)
    assert response.status_code == 422
    assert response.json() == {
        "error": "HTTPException",
        "detail": "Script 'no such script' not found",
        "body": "",
        "errors": "",
    }
    response = emulator.txt2img(prompt="x", alwayson_scripts={"nope": {"args": []}}, **SMALL)
    assert (response.status_code, response.json()["detail"]) == (422, "Script 'nope' not found")
    assert (
        emulator.txt2img(prompt="x", alwayson_scripts={"Refiner": {"args": []}}, **SMALL).status_code == 200
    )


def test_v19_mode_404s_legacy_sampler_names(a1111_emulator: StartEmulator) -> None:
    # §15.7, §5: the optional 1.9 mode: legacy or unknown names -> 404 "Sampler not found"
    emulator = a1111_emulator("--emu-sampler-mode", "1.9")
    response = emulator.txt2img(prompt="x", sampler_name="DPM++ 2M Karras", **SMALL)
    assert response.status_code == 404
    assert response.json() == {
        "error": "HTTPException",
        "detail": "Sampler not found",
        "body": "",
        "errors": "",
    }
    euler = info_of(emulator.txt2img(prompt="x", sampler_name="Euler", **SMALL))["infotexts"][0]
    assert "Sampler: Euler, CFG scale: 7.0," in euler  # scheduler None: no Schedule type (§5)
    karras = info_of(emulator.txt2img(prompt="x", sampler_name="DPM++ 2M", **SMALL))["infotexts"][0]
    assert "Sampler: DPM++ 2M, Schedule type: Karras," in karras


def test_unknown_route_and_wrong_method_keep_starlette_shape(emulator: EmulatorProcess) -> None:
    # §15.12, §9: {"detail":"Not Found"} / {"detail":"Method Not Allowed"}
    assert emulator.get("/sdapi/v1/nope").json() == {"detail": "Not Found"}
    assert emulator.get("/sdapi/v1/nope").status_code == 404
    response = emulator.get("/sdapi/v1/txt2img")
    assert (response.status_code, response.json()) == (405, {"detail": "Method Not Allowed"})


def test_hires_without_denoising_is_500_type_error(emulator: EmulatorProcess) -> None:
    # §3: enable_hr with the API default denoising_strength=None fails in the hires pass
    response = emulator.txt2img(prompt="x", enable_hr=True, **SMALL)
    assert response.status_code == 500
    assert response.json()["error"] == "TypeError"
    assert response.json()["errors"] == "'>' not supported between instances of 'NoneType' and 'int'"
    response = emulator.txt2img(
        prompt="x", enable_hr=True, hr_upscaler="Magic", denoising_strength=0.5, **SMALL
    )
    assert (response.status_code, response.json()["error"]) == (500, "Exception")
    assert response.json()["errors"] == "could not find upscaler named Magic"
    assert emulator.txt2img(prompt="x", enable_hr=True, denoising_strength=0.5, **SMALL).status_code == 200


def test_no_checkpoint_at_all_fails_generation_with_500(
    a1111_emulator: StartEmulator, tmp_path: object
) -> None:
    # §1: if loading failed, generation raises, giving a 500; the API itself answers
    emulator = a1111_emulator("--ckpt-dir", "/nonexistent", ckpt=None)
    assert emulator.get("/sdapi/v1/sd-models").json() == []
    response = emulator.txt2img(prompt="x", **SMALL)
    assert response.status_code == 500
    assert response.json()["error"] == "FileNotFoundError"
    assert response.json()["errors"].startswith("No checkpoints found.")


def test_sdxl_oom_on_small_card_then_recovers(a1111_emulator: StartEmulator) -> None:
    # §9 "After an OOM": no automatic restart, the next request runs normally
    emulator = a1111_emulator("--emu-vram-mb", "12288", ckpt=SDXL)
    assert emulator.txt2img(prompt="x", width=1024, height=1024, steps=1, batch_size=4).status_code == 500
    assert emulator.txt2img(prompt="x", width=1024, height=1024, steps=1, batch_size=1).status_code == 200
    assert emulator.stats()["ooms"] == 1


def test_unknown_override_key_is_500_key_error_and_restores(emulator: EmulatorProcess) -> None:
    # §8: an unknown override_settings key raises KeyError (500); the restore still runs, the lock is freed
    response = emulator.txt2img(prompt="x", override_settings={"no_such_option": 1}, **SMALL)
    assert response.status_code == 500
    assert response.json() == {"error": "KeyError", "detail": "", "body": "", "errors": "'no_such_option'"}
    assert emulator.txt2img(prompt="x", **SMALL).status_code == 200
