"""§15.10 LoRA (§7)."""

from __future__ import annotations

from pathlib import Path

from tests.emulator.conftest import SDXL, WORKER_FLAGS, EmulatorProcess, StartEmulator
from tests.emulator.helpers import SMALL, info_of
from worker.stack.samples import Architecture, write_lora

HASHING_FLAGS = tuple(flag for flag in WORKER_FLAGS if flag != "--no-hashing")


def test_loras_lists_name_alias_path_metadata(shared_emulator: EmulatorProcess, models_dir: Path) -> None:
    # §15.10, §7: [{name: basename, alias: ss_output_name|name, path, metadata}]
    loras = shared_emulator.get("/sdapi/v1/loras").json()
    assert [lora["name"] for lora in loras] == ["boring_reality_v4", "detail_tweaker_xl"]
    first = loras[0]
    assert list(first) == ["name", "alias", "path", "metadata"]
    assert first["alias"] == "BoringReality"
    assert first["path"] == str(models_dir / "loras" / "boring_reality_v4.safetensors")
    assert first["metadata"]["ss_base_model_version"] == "sd_v1"
    assert first["metadata"]["ss_network_dim"] == "4"
    assert loras[1]["alias"] == "detail_tweaker_xl"


def test_lora_tag_kept_in_prompt_and_infotext_without_hashes_under_no_hashing(
    shared_emulator: EmulatorProcess,
) -> None:
    # §7, §12: the tag stays in all_prompts and the infotext; --no-hashing gives no Lora hashes
    info = info_of(shared_emulator.txt2img(prompt="a room <lora:BoringReality:0.4>", **SMALL))
    assert info["all_prompts"] == ["a room <lora:BoringReality:0.4>"]
    assert info["infotexts"][0].startswith("a room <lora:BoringReality:0.4>\nSteps: 4,")
    assert "Lora hashes" not in info["infotexts"][0]


def test_known_lora_adds_quoted_lora_hashes(a1111_emulator: StartEmulator) -> None:
    # §15.10, §7, §11: `Lora hashes: "name: <12 hex>"`, JSON-quoted because of the colon
    emulator = a1111_emulator(flags=HASHING_FLAGS)
    info = info_of(emulator.txt2img(prompt="x <lora:BoringReality:0.4> <lora:boring_reality_v4>", **SMALL))
    hashes = info["extra_generation_params"]["Lora hashes"]
    names = [part.split(": ")[0] for part in hashes.split(", ")]
    assert names == ["BoringReality", "boring_reality_v4"]
    assert all(len(part.split(": ")[1]) == 12 for part in hashes.split(", "))
    assert f'Lora hashes: "{hashes}"' in info["infotexts"][0]


def test_unknown_lora_is_200_and_silent(shared_emulator: EmulatorProcess) -> None:
    # §15.10, §7: an unknown name gives 200 with no warning in the response
    response = shared_emulator.txt2img(prompt="x <lora:does_not_exist:1>", **SMALL)
    assert response.status_code == 200
    info = info_of(response)
    assert "Lora" not in info["infotexts"][0].split("\n")[-1]
    assert "Lora hashes" not in info["extra_generation_params"]


def test_sshs_model_hash_metadata_gives_a_hash_even_without_hashing(
    a1111_emulator: StartEmulator, tmp_path: Path
) -> None:
    # §7: the hash may come from the `sshs_model_hash` metadata, so it shows under --no-hashing too
    folder = tmp_path / "loras"
    write_lora(folder / "tagged.safetensors", Architecture.SDXL, metadata={"sshs_model_hash": "ab" * 32})
    emulator = a1111_emulator("--lora-dir", str(folder), ckpt=SDXL)
    info = info_of(emulator.txt2img(prompt="x <lora:tagged:1>", **SMALL))
    assert info["extra_generation_params"]["Lora hashes"] == "tagged: " + "ab" * 6


def test_refresh_loras_picks_up_new_files(a1111_emulator: StartEmulator, tmp_path: Path) -> None:
    # §2: refresh-loras -> null
    folder = tmp_path / "loras"
    folder.mkdir()
    emulator = a1111_emulator("--lora-dir", str(folder))
    assert emulator.get("/sdapi/v1/loras").json() == []
    write_lora(folder / "late.safetensors", Architecture.SD15)
    response = emulator.post("/sdapi/v1/refresh-loras")
    assert (response.status_code, response.json()) == (200, None)
    assert [lora["name"] for lora in emulator.get("/sdapi/v1/loras").json()] == ["late"]
