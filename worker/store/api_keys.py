"""API keys: random tokens shown once; only their SHA-256 is stored.

A key is 32 random bytes, so a plain SHA-256 is enough at rest: there is nothing to brute-force that a
slow hash would protect (unlike a password).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from worker.errors import InvalidRequest
from worker.store.boundary import translate_db_errors
from worker.store.models import ApiKey
from worker.store.records import utcnow

KEY_PREFIX = "sdf_"
SECRET_PREFIX = "whsec_"


def new_webhook_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Caller:
    """Who is calling: the name of their API key."""

    name: str
    callback_url: str | None = None  # the default callback URL of this key's jobs


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeys:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    @translate_db_errors
    def create(self, name: str, *, callback_url: str | None = None) -> str:
        """Create a key named `name` (with a webhook secret, and a default callback URL for its jobs)
        and return it; it cannot be shown again. Raises InvalidRequest if the name is taken."""
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        with self._sessions() as session:
            session.add(
                ApiKey(
                    name=name,
                    prefix=key[:12],
                    key_sha256=hash_key(key),
                    webhook_secret=new_webhook_secret(),
                    callback_url=callback_url,
                )
            )
            try:
                session.commit()
            except IntegrityError:
                raise InvalidRequest(f"an API key named {name!r} exists already", field="name") from None
        return key

    @translate_db_errors
    def authenticate(self, key: str) -> Caller | None:
        with self._sessions() as session:
            row = session.scalar(
                select(ApiKey).where(ApiKey.key_sha256 == hash_key(key), ApiKey.revoked_at.is_(None))
            )
            return Caller(row.name, row.callback_url) if row is not None else None

    @translate_db_errors
    def revoke(self, name: str) -> bool:
        with self._sessions.begin() as session:
            result = session.execute(
                update(ApiKey)
                .where(ApiKey.name == name, ApiKey.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    @translate_db_errors
    def list(self) -> list[tuple[str, str, bool]]:
        """(name, prefix, revoked) of every key."""
        with self._sessions() as session:
            return [(k.name, k.prefix, k.revoked_at is not None) for k in session.scalars(select(ApiKey))]

    @translate_db_errors
    def webhook_secret(self, name: str) -> str | None:
        """The secret that signs webhooks of `name`'s jobs (None: no such key, or it has none)."""
        with self._sessions() as session:
            return session.scalar(select(ApiKey.webhook_secret).where(ApiKey.name == name))

    @translate_db_errors
    def rotate_webhook_secret(self, name: str) -> str | None:
        """Give `name` a new webhook secret and return it (None: no such key); later tries use it."""
        secret = new_webhook_secret()
        with self._sessions.begin() as session:
            result = session.execute(update(ApiKey).where(ApiKey.name == name).values(webhook_secret=secret))
            return secret if result.rowcount else None  # type: ignore[attr-defined]
