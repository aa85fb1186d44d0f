"""The content policy through HTTP: an API process started with SDFLEET_BLOCKED_TERMS refuses with a 422."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.helpers.processes import Processes, base_env

BLOCKED_TERMS = ["gore", r"re:\bnsfw\w*"]
SDXL = "jib_mix_illustrious_realistic_v2"


@pytest.fixture(scope="module")
def procs(sdfleet_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Processes]:
    processes = Processes(tmp_path_factory.mktemp("api-content-logs"), {**base_env(), **sdfleet_env})
    yield processes
    processes.stop()


@pytest.fixture(scope="module")
def policed(procs: Processes, api_key: str) -> Iterator[httpx.Client]:
    url = procs.api(env={"SDFLEET_BLOCKED_TERMS": json.dumps(BLOCKED_TERMS)})
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {api_key}"}, timeout=30) as client:
        yield client


@pytest.mark.parametrize(
    ("body", "loc", "term"),
    [({"prompt": "a scene of GORE"}, ["body", "prompt"], "gore"),
     ({"prompt": "nsfw_art, 1girl"}, ["body", "prompt"], r"re:\bnsfw\w*"),
     ({"prompt": "go<lora:real_skin_slider:1>re", "checkpoint": SDXL}, ["body", "prompt"], "gore")],
    ids=["word", "pattern", "split by a LoRA tag"],
)  # fmt: skip
def test_a_blocked_prompt_is_422_content_blocked_naming_the_term(
    policed: httpx.Client, body: dict[str, object], loc: list[object], term: str
) -> None:
    response = policed.post("/v1/jobs", json=body)
    assert response.status_code == 422, response.text
    refusal = response.json()
    assert refusal["error"] == "content_blocked"
    assert (
        refusal["message"]
        == f"the prompt is refused by the content policy: it matches the blocked term {term!r}"
    )
    assert refusal["detail"][0]["loc"] == loc and refusal["detail"][0]["type"] == "content_blocked"


def test_a_clean_prompt_and_a_blocked_negative_prompt_are_accepted(policed: httpx.Client) -> None:
    response = policed.post("/v1/jobs", json={"prompt": "a calm lake", "negative_prompt": "gore"})
    assert response.status_code == 202, response.text
    policed.post(response.json()["url"] + "/cancel")  # no worker runs in this module


def test_the_a1111_compatible_route_applies_the_policy_too(policed: httpx.Client) -> None:
    response = policed.post("/sdapi/v1/txt2img", json={"prompt": "gore", "steps": 2})
    assert response.status_code == 422
    assert "blocked term 'gore'" in response.json()["detail"]


def test_a_bad_pattern_stops_the_api_from_starting(procs: Processes) -> None:
    # A broken policy must not quietly accept jobs, nor refuse every one with a 503: it refuses to start.
    with pytest.raises(RuntimeError) as exited:
        procs.api(env={"SDFLEET_BLOCKED_TERMS": json.dumps(["re:(unclosed"])})
    assert "content policy pattern 're:(unclosed' is invalid" in str(exited.value)
