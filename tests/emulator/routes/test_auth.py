"""`--api-auth` as A1111 v1.10.1 does it. Sources (upstream 82a973c0 unless named):
`modules/api/api.py:201-205` (parsing), `:274-277` (which routes), `:279-284` (the check), `:175-186` (the
envelope, which drops the exception's headers); fastapi 0.94.0 `security/http.py:67-97` (`HTTPBasic`),
`routing.py:190-235` (body decoded before the dependency runs); `extensions-builtin/Lora/scripts/
lora_script.py:62-69` (/loras without auth)."""

from __future__ import annotations

import base64

import pytest

from emulator.routes.auth import parse_api_auth
from tests.emulator.conftest import EmulatorProcess, StartEmulator
from tests.emulator.helpers import SMALL, poll_until

CREDENTIALS = "alice:secret,bob:s3cr3t"


def basic(user_pass: bytes) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(user_pass).decode()}


def envelope(detail: str) -> dict[str, str]:
    return {"error": "HTTPException", "detail": detail, "body": "", "errors": ""}


@pytest.fixture(scope="module")
def emulator(module_emulator: StartEmulator) -> EmulatorProcess:
    return module_emulator("--api-auth", CREDENTIALS)


def test_the_flag_is_user_colon_password_comma_separated() -> None:
    # api.py:201-205: `for auth in api_auth.split(","): user, password = auth.split(":")`
    assert parse_api_auth("alice:secret,bob:s3cr3t") == {"alice": "secret", "bob": "s3cr3t"}
    assert parse_api_auth("a:1,a:2") == {"a": "2"}  # a later entry wins, as in a dict
    assert parse_api_auth("") == {} and parse_api_auth(None) == {}  # `if shared.cmd_opts.api_auth:`
    assert parse_api_auth(":") == {"": ""}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("alice", "not enough values to unpack (expected 2, got 1)"),
        ("alice:secret,", "not enough values to unpack (expected 2, got 1)"),
        ("alice:pa:ss", "too many values to unpack (expected 2)"),
    ],
)
def test_a_malformed_flag_is_the_unpacking_value_error(value: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_api_auth(value)
    assert str(raised.value) == message


def test_a_malformed_flag_kills_the_server_at_start_up(a1111_emulator: StartEmulator) -> None:
    # A1111 does not catch it: Api() raises inside api_only() and the process dies, never listening
    emulator = a1111_emulator("--api-auth", "alice:pa:ss", wait=False)
    poll_until(lambda: emulator.process.poll() is not None, timeout_s=20)
    assert emulator.process.returncode == 1
    assert "ValueError: too many values to unpack (expected 2)" in emulator.log()


def test_protected_routes_answer_401_in_the_envelope_without_a_challenge(emulator: EmulatorProcess) -> None:
    # HTTPBasic: no header -> "Not authenticated"; A1111's handler rebuilds the response from the
    # envelope, so the exception's WWW-Authenticate header never reaches the client
    for method, path in [("GET", "/sdapi/v1/sd-models"), ("GET", "/sdapi/v1/progress"),
                         ("POST", "/sdapi/v1/interrupt"), ("GET", "/sdapi/v1/options"),
                         ("GET", "/sdapi/v1/memory"), ("GET", "/sdapi/v1/scripts")]:  # fmt: skip
        response = emulator.http.request(method, path)
        assert (response.status_code, response.json()) == (401, envelope("Not authenticated")), path
        assert "www-authenticate" not in response.headers and "x-process-time" in response.headers


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        ("Bearer abc", "Not authenticated"),  # another scheme
        ("Basic", "Invalid authentication credentials"),  # an empty param decodes to "", with no ":"
        ("Basic !!!!", "Invalid authentication credentials"),  # decodes to nothing, so no ":"
        ("Basic " + base64.b64encode(b"alice").decode(), "Invalid authentication credentials"),
        ("Basic " + base64.b64encode("alice:sécret".encode()).decode(), "Invalid authentication credentials"),
        ("Basic " + base64.b64encode(b"alice:wrong").decode(), "Incorrect username or password"),
        ("Basic " + base64.b64encode(b"carol:secret").decode(), "Incorrect username or password"),
        ("basic " + base64.b64encode(b"alice:secret").decode(), None),  # the scheme is case-insensitive
        ("Basic " + base64.b64encode(b"bob:s3cr3t").decode(), None),
    ],
)
def test_the_header_is_read_like_fastapi_0_94_httpbasic(
    emulator: EmulatorProcess, header: str, detail: str | None
) -> None:
    response = emulator.get("/sdapi/v1/sd-models", headers={"Authorization": header})
    if detail is None:
        assert response.status_code == 200
    else:
        assert (response.status_code, response.json()) == (401, envelope(detail))


def test_lora_routes_docs_and_the_admin_api_are_not_protected(emulator: EmulatorProcess) -> None:
    # the Lora extension adds /loras and /refresh-loras with @app.get/@app.post, not add_api_route
    assert emulator.get("/sdapi/v1/loras").status_code == 200
    assert emulator.post("/sdapi/v1/refresh-loras").status_code == 200
    assert emulator.get("/openapi.json").status_code == 200 and emulator.get("/docs").status_code == 200
    assert emulator.get("/emulator/v1/stats").status_code == 200
    assert emulator.get("/sdapi/v1/no-such-route").status_code == 404  # no route, so no dependency


def test_a_body_is_decoded_before_auth_and_validated_after(emulator: EmulatorProcess) -> None:
    # fastapi 0.94 routing.py:190-235: JSON is decoded before solve_dependencies, fields checked after
    bad_json = emulator.post("/sdapi/v1/txt2img", content=b"{", headers={"Content-Type": "application/json"})
    assert bad_json.status_code == 422 and bad_json.json()["detail"][0]["type"] == "value_error.jsondecode"
    not_text = emulator.post("/sdapi/v1/options", content=b'{"a": "\xff"}')
    assert (not_text.status_code, not_text.json()) == (400, envelope("There was an error parsing the body"))
    bad_field = emulator.post("/sdapi/v1/txt2img", json={"steps": "abc"})
    assert (bad_field.status_code, bad_field.json()) == (401, envelope("Not authenticated"))
    empty = emulator.post("/sdapi/v1/png-info")
    assert (empty.status_code, empty.json()) == (401, envelope("Not authenticated"))
    signed_in = basic(b"alice:secret")
    bad_field = emulator.post("/sdapi/v1/txt2img", json={"steps": "abc"}, headers=signed_in)
    assert bad_field.status_code == 422 and bad_field.json()["detail"][0]["loc"] == ["body", "steps"]
    assert (
        emulator.post("/sdapi/v1/png-info", headers=signed_in).json()["detail"][0]["msg"] == "field required"
    )
    assert emulator.post("/sdapi/v1/txt2img", json=SMALL, headers=signed_in).status_code == 200


def test_a_non_ascii_configured_password_fails_like_compare_digest(a1111_emulator: StartEmulator) -> None:
    # the client's password is ASCII (HTTPBasic decodes "ascii"); secrets.compare_digest refuses a str
    # with non-ASCII characters, so A1111 answers that user with a 500 TypeError in its envelope
    emulator = a1111_emulator("--api-auth", "zoe:clé")
    response = emulator.get("/sdapi/v1/sd-models", headers=basic(b"zoe:cle"))
    assert response.status_code == 500
    assert response.json() == {
        "error": "TypeError",
        "detail": "",
        "body": "",
        "errors": "comparing strings with non-ASCII characters is not supported",
    }
    assert emulator.get("/sdapi/v1/sd-models", headers=basic(b"eve:x")).status_code == 401
