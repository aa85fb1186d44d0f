"""`--api-auth user:pass,...`: HTTP Basic on the A1111 API routes, as A1111 v1.10.1 does it.

- The flag is parsed like `api.py:201-205`: split on "," then each entry on ":" into exactly two parts.
  Anything else ("u", "u:p:x", a trailing ",") raises ValueError, and A1111 dies at start-up with it.
  An empty value is no auth at all (`if shared.cmd_opts.api_auth:`). There is no file form (the
  `--gradio-auth-path` flag is the UI's, `initialize_util.py:114-139`).
- Every route `Api.add_api_route` adds gets the dependency (`api.py:274-277`); the Lora extension's
  `/loras` and `/refresh-loras` (`lora_script.py:62-69`), `/docs` and `/openapi.json` do not.
- The header is read by fastapi 0.94's `HTTPBasic` (`fastapi/security/http.py:67-97`): no header or
  another scheme is "Not authenticated"; undecodable base64, non-ASCII, or no ":" is "Invalid
  authentication credentials". Then A1111's `auth` (`api.py:279-284`): an unknown user or a wrong
  password (`secrets.compare_digest`) is "Incorrect username or password". Each is a 401.
- A1111's handler (`api.py:175-186`) answers every HTTPException as `{"error": "HTTPException",
  "detail": ..., "body": "", "errors": ""}` and drops the exception's headers, so there is no
  `WWW-Authenticate` on the wire.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from secrets import compare_digest

from fastapi import Depends, HTTPException, Request
from fastapi.params import Depends as DependsParam


def parse_api_auth(value: str | None) -> dict[str, str]:
    """The credentials of `--api-auth`. Raises ValueError, with CPython 3.10's unpacking messages,
    for an entry that is not exactly `user:password`."""
    credentials: dict[str, str] = {}
    if not value:
        return credentials
    for entry in value.split(","):
        parts = entry.split(":")
        if len(parts) < 2:
            raise ValueError(f"not enough values to unpack (expected 2, got {len(parts)})")
        if len(parts) > 2:
            raise ValueError("too many values to unpack (expected 2)")
        credentials[parts[0]] = parts[1]
    return credentials


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status_code=401, detail=detail, headers={"WWW-Authenticate": "Basic"})


class ApiAuth:
    """The check every protected A1111 route runs; does nothing without credentials."""

    def __init__(self, credentials: Mapping[str, str]) -> None:
        self.credentials = dict(credentials)

    def check(self, request: Request) -> None:
        """Raises HTTPException 401 unless the request carries a known user's password (and TypeError,
        as A1111 does, when a configured password is not ASCII)."""
        if not self.credentials:
            return
        authorization = request.headers.get("authorization")
        scheme, _, param = (authorization or "").partition(" ")
        if not authorization or scheme.lower() != "basic":
            raise _unauthorized("Not authenticated")
        try:
            data = base64.b64decode(param).decode("ascii")
        except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
            raise _unauthorized("Invalid authentication credentials") from exc
        username, separator, password = data.partition(":")
        if not separator:
            raise _unauthorized("Invalid authentication credentials")
        if username in self.credentials and compare_digest(password, self.credentials[username]):
            return
        raise _unauthorized("Incorrect username or password")

    def dependencies(self) -> list[DependsParam]:
        """The route-level dependencies of a protected route without a request body."""
        return [Depends(self.check)] if self.credentials else []
