"""Request dependencies: the per-app resources and the authenticated caller."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBasic, HTTPBasicCredentials, HTTPBearer
from sqlalchemy import Engine

from api.settings import ApiSettings
from worker.events.waiting import AsyncJobEvents
from worker.jobs.service import JobService
from worker.store.api_keys import ApiKeys, Caller


@dataclass
class Resources:
    """Built once per API process in the app's lifespan."""

    settings: ApiSettings
    engine: Engine
    jobs: JobService
    keys: ApiKeys
    events: AsyncJobEvents  # job event streams, read without blocking the event loop


def get_resources(request: Request) -> Resources:
    resources: Resources = request.app.state.resources
    return resources


ResourcesDep = Annotated[Resources, Depends(get_resources)]
_bearer = HTTPBearer(auto_error=False, description="An sdfleet API key: `Authorization: Bearer sdf_...`")
_basic = HTTPBasic(auto_error=False, description="For A1111 clients: any user name, the API key as password")


def get_caller(
    resources: ResourcesDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    basic: Annotated[HTTPBasicCredentials | None, Depends(_basic)],
) -> Caller | None:
    """The caller named by the API key; 401 when a key is required and missing or unknown."""
    if not resources.settings.api_auth:
        return None
    key = bearer.credentials if bearer is not None else basic.password if basic is not None else None
    if key is None:
        raise HTTPException(
            401, "missing API key: send 'Authorization: Bearer <key>'", headers={"WWW-Authenticate": "Bearer"}
        )
    caller = resources.keys.authenticate(key)
    if caller is None:
        raise HTTPException(401, "unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"})
    return caller


CallerDep = Annotated[Caller | None, Depends(get_caller)]
