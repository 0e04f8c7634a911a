"""API keys: created hashed, looked up by their public prefix, compared in constant time."""

import hmac
import uuid
from datetime import timedelta

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlmodel import col, select

from app.auth.models import ApiKey
from app.core.cache import ExpiringCache
from app.core.clock import utcnow
from app.core.errors import NotFound
from app.core.pagination import PageParams, Rows, paginate
from app.core.security import (
    Principal,
    Scope,
    expand_scopes,
    generate_key,
    hash_key,
    parse_prefix,
    same_secret,
)
from app.core.settings import Settings

LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiKeyNotFound(NotFound):
    pass


async def create_api_key(
    session: AsyncSession, *, name: str, scopes: list[Scope], person: str | None = None
) -> tuple[ApiKey, str]:
    """A new key; with `person` (a normalised handle) a personal key, else a service key."""
    key, prefix = generate_key()
    api_key = ApiKey(
        name=name,
        person=person,
        prefix=prefix,
        secret_hash=hash_key(key),
        scopes=sorted(set(scopes)),
    )
    session.add(api_key)
    await session.flush()
    return api_key, key


async def list_api_keys(session: AsyncSession, page: PageParams) -> Rows[ApiKey]:
    return await paginate(session, select(ApiKey), page, col(ApiKey.created_at), col(ApiKey.id))


async def revoke_api_key(session: AsyncSession, *, key_id: uuid.UUID, cache: "KeyCache") -> ApiKey:
    """Revoke a key; this process's cache forgets every key once the revocation commits.

    Not before: until the commit, a concurrent request still reads the key as valid
    and would put it back in the cache.
    """
    api_key = await session.get(ApiKey, key_id)
    if api_key is None:
        raise ApiKeyNotFound(f"No API key {key_id}")
    if api_key.revoked_at is None:
        api_key.revoked_at = utcnow()
        await session.flush()

        def forget(_: Session) -> None:
            cache.clear()

        event.listen(session.sync_session, "after_commit", forget, once=True)
    return api_key


class KeyCache(ExpiringCache[str, Principal]):
    """Keys recently found valid, by the hash of the key: most requests skip the look-up.

    A key revoked by this process stops working here at once (`clear`, after the
    commit); other processes notice within `seconds`. Unknown and revoked keys are
    never cached, nor is a key read before a `clear` and found valid after it
    (`generation`): it may have been read before the revocation committed.
    """

    def __init__(self, seconds: float, size: int = 1024) -> None:
        super().__init__(seconds, size)


BOOTSTRAP_SUBJECT = "bootstrap-admin"


def _principal_of(api_key: ApiKey) -> Principal:
    return Principal(
        key_id=api_key.id,
        name=api_key.name,
        scopes=expand_scopes(api_key.scopes),
        person=api_key.person,
    )


async def key_of_subject(
    session: AsyncSession, settings: Settings, subject: str
) -> tuple[Principal, str] | None:
    """The caller a `Principal.subject` names, with its key's hash, while the key is valid.

    The hash is a secret only the server holds: it signs what a key's holder is given to
    carry instead of the key (the incident page's cookie), and revoking the key voids it.
    """
    if subject == BOOTSTRAP_SUBJECT:
        bootstrap = settings.admin_api_key
        if bootstrap is None:
            return None
        admin = Principal(key_id=None, name=BOOTSTRAP_SUBJECT, scopes=expand_scopes([Scope.ADMIN]))
        return admin, hash_key(bootstrap.get_secret_value())
    try:
        key_id = uuid.UUID(subject)
    except ValueError:
        return None
    api_key = await session.get(ApiKey, key_id)
    if api_key is None or api_key.revoked_at is not None:
        return None
    principal = _principal_of(api_key)
    return principal, api_key.secret_hash


async def authenticate(
    session: AsyncSession, settings: Settings, key: str, cache: ExpiringCache[str, Principal]
) -> Principal | None:
    bootstrap = settings.admin_api_key
    if bootstrap is not None and same_secret(key, bootstrap.get_secret_value()):
        return Principal(key_id=None, name="bootstrap-admin", scopes=expand_scopes([Scope.ADMIN]))
    prefix = parse_prefix(key)
    if prefix is None:
        return None
    key_hash = hash_key(key)
    cached = cache.get(key_hash)
    if cached is not None:
        return cached
    generation = cache.generation
    api_key = await session.scalar(select(ApiKey).where(col(ApiKey.prefix) == prefix))
    if api_key is None or not hmac.compare_digest(api_key.secret_hash, key_hash):
        return None
    if api_key.revoked_at is not None:
        return None
    now = utcnow()
    if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
        api_key.last_used_at = now
    principal = _principal_of(api_key)
    cache.put(key_hash, principal, generation=generation)
    return principal
