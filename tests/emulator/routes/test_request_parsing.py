"""§15.2 request parsing: pydantic-v1 leniency, defaults (§3) and the v1 422 shape (§9)."""

from __future__ import annotations

from tests.emulator.conftest import EmulatorProcess
from tests.emulator.helpers import SMALL, info_of

DEFAULTS = {
    "prompt": "", "negative_prompt": "", "styles": None, "seed": -1, "subseed": -1, "subseed_strength": 0,
    "seed_resize_from_h": -1, "seed_resize_from_w": -1, "sampler_name": None, "scheduler": None,
    "batch_size": 1, "n_iter": 1, "steps": 50, "cfg_scale": 7.0, "width": 512, "height": 512,
    "restore_faces": None, "tiling": None, "do_not_save_samples": False, "do_not_save_grid": False,
    "eta": None, "denoising_strength": None, "s_min_uncond": None, "s_churn": None, "s_tmax": None,
    "s_tmin": None, "s_noise": None, "override_settings": None, "override_settings_restore_afterwards": True,
    "refiner_checkpoint": None, "refiner_switch_at": None, "disable_extra_networks": False,
    "firstpass_image": None, "comments": None, "enable_hr": False, "firstphase_width": 0,
    "firstphase_height": 0, "hr_scale": 2.0, "hr_upscaler": None, "hr_second_pass_steps": 0, "hr_resize_x": 0,
    "hr_resize_y": 0, "hr_checkpoint_name": None, "hr_sampler_name": None, "hr_scheduler": None,
    "hr_prompt": "", "hr_negative_prompt": "", "force_task_id": None, "sampler_index": "Euler",
    "script_name": None, "script_args": [], "send_images": True, "save_images": False, "alwayson_scripts": {},
    "infotext": None,
}  # fmt: skip


def test_parameters_echo_every_field_with_a1111_defaults(shared_emulator: EmulatorProcess) -> None:
    # §15.2, §3: the `parameters` echo has exactly the §3 keys, in order, defaults filled in
    response = shared_emulator.post("/sdapi/v1/txt2img", json={"steps": 2, "width": 64, "height": 64})
    parameters = response.json()["parameters"]
    assert list(parameters) == list(DEFAULTS)
    assert parameters == {**DEFAULTS, "steps": 2, "width": 64, "height": 64}


def test_empty_body_object_runs_with_defaults(shared_emulator: EmulatorProcess) -> None:
    # §15.2, §3: steps=50, sampler_index "Euler", 512x512, cfg 7.0, denoising None
    info = info_of(shared_emulator.post("/sdapi/v1/txt2img", json={}))
    assert (info["steps"], info["width"], info["height"], info["cfg_scale"]) == (50, 512, 512, 7.0)
    assert info["sampler_name"] == "Euler"
    assert info["denoising_strength"] is None
    assert "Steps: 50, Sampler: Euler, Schedule type: Automatic, CFG scale: 7.0," in info["infotexts"][0]


def test_unknown_keys_are_ignored(shared_emulator: EmulatorProcess) -> None:
    # §15.2, §14: e.g. runpod's test input sends num_inference_steps/guidance_scale, silently ignored
    body = {
        "prompt": "x",
        "num_inference_steps": 3,
        "guidance_scale": 2,
        "width": 64,
        "height": 64,
        "steps": 2,
    }
    response = shared_emulator.post("/sdapi/v1/txt2img", json=body)
    assert response.status_code == 200
    assert "num_inference_steps" not in response.json()["parameters"]
    assert info_of(response)["cfg_scale"] == 7.0


def test_lenient_coercion(shared_emulator: EmulatorProcess) -> None:
    # §15.2, §3: "20" -> 20 and 1.7 -> 1 for ints; numbers to str; "7" -> 7.0 for floats; "yes" -> True
    body = {"steps": "3", "batch_size": 1.7, "width": "64", "height": 64.9, "cfg_scale": "6", "prompt": 12,
            "send_images": "yes", "seed": "42"}  # fmt: skip
    response = shared_emulator.post("/sdapi/v1/txt2img", json=body)
    assert response.status_code == 200
    parameters = response.json()["parameters"]
    assert (parameters["steps"], parameters["batch_size"], parameters["width"], parameters["height"]) == (
        3,
        1,
        64,
        64,
    )
    assert (
        parameters["cfg_scale"] == 6.0 and parameters["prompt"] == "12" and parameters["send_images"] is True
    )
    assert info_of(response)["seed"] == 42


def test_wrong_type_gives_v1_422_shape(shared_emulator: EmulatorProcess) -> None:
    # §15.2, §9: FastAPI's default handler with pydantic v1, not the A1111 envelope
    response = shared_emulator.post("/sdapi/v1/txt2img", json={"steps": "abc"})
    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {"loc": ["body", "steps"], "msg": "value is not a valid integer", "type": "type_error.integer"}
        ]
    }


def test_every_invalid_field_is_reported_in_field_order(shared_emulator: EmulatorProcess) -> None:
    # §9: v1 lists all errors; a list prompt is refused ("prompt must be a string", §3)
    response = shared_emulator.post(
        "/sdapi/v1/txt2img", json={"cfg_scale": "high", "prompt": ["a", "b"], "restore_faces": "maybe"}
    )
    assert response.status_code == 422
    assert response.json()["detail"] == [
        {"loc": ["body", "prompt"], "msg": "str type expected", "type": "type_error.str"},
        {"loc": ["body", "cfg_scale"], "msg": "value is not a valid float", "type": "type_error.float"},
        {
            "loc": ["body", "restore_faces"],
            "msg": "value could not be parsed to a boolean",
            "type": "type_error.bool",
        },
    ]


def test_invalid_json_gives_jsondecode_422(shared_emulator: EmulatorProcess) -> None:
    # §9: {"detail":[{"loc":["body",0],"msg":"Expecting value: line 1 column 1 (char 0)",
    #      "type":"value_error.jsondecode","ctx":{...}}]}
    response = shared_emulator.post(
        "/sdapi/v1/txt2img", content=b"not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    (entry,) = response.json()["detail"]
    assert entry["loc"] == ["body", 0]
    assert entry["msg"] == "Expecting value: line 1 column 1 (char 0)"
    assert entry["type"] == "value_error.jsondecode"
    assert entry["ctx"] == {"msg": "Expecting value", "doc": "not json", "pos": 0, "lineno": 1, "colno": 1}


def test_non_object_body_is_not_a_valid_dict(shared_emulator: EmulatorProcess) -> None:
    # §9: a JSON array where the model expects an object
    response = shared_emulator.post("/sdapi/v1/txt2img", json=[1, 2])
    assert response.status_code == 422
    assert response.json() == {
        "detail": [{"loc": ["body"], "msg": "value is not a valid dict", "type": "type_error.dict"}]
    }


def test_null_values_are_accepted_for_optional_fields(shared_emulator: EmulatorProcess) -> None:
    # §3: every field is Optional in A1111's model; null seed resolves to a random seed
    response = shared_emulator.post("/sdapi/v1/txt2img", json={"seed": None, **SMALL})
    assert response.status_code == 200
    assert response.json()["parameters"]["seed"] is None
    assert info_of(response)["seed"] >= 0


def test_server_usable_after_a_validation_error(shared_emulator: EmulatorProcess) -> None:
    # §15.3: the server stays usable after any error
    assert shared_emulator.post("/sdapi/v1/txt2img", json={"steps": "abc"}).status_code == 422
    assert shared_emulator.txt2img(prompt="x", **SMALL).status_code == 200
