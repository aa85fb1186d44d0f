"""`--api-auth user:pass,...`: HTTP Basic on the A1111 API routes (not on /loras), as api.py does it."""

from __future__ import annotations

import base64
import binascii
from secrets import compare_digest

from fastapi import Depends, HTTPException, Request
from fastapi.params import Depends as DependsParam


def auth_dependencies(credentials: dict[str, str]) -> list[DependsParam]:
    """An empty list without --api-auth; else a dependency raising A1111's two 401s."""
    if not credentials:
        return []

    def check(request: Request) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, encoded = header.partition(" ")
        challenge = {"WWW-Authenticate": "Basic"}
        if scheme.lower() != "basic" or not encoded:
            raise HTTPException(status_code=401, detail="Not authenticated", headers=challenge)
        try:
            user, _, password = base64.b64decode(encoded).decode("utf8").partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
            detail = "Invalid authentication credentials"
            raise HTTPException(status_code=401, detail=detail, headers=challenge) from exc
        if user in credentials and compare_digest(password, credentials[user]):
            return
        raise HTTPException(status_code=401, detail="Incorrect username or password", headers=challenge)

    return [Depends(check)]
