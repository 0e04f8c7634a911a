"""Admin endpoints for API keys. The secret of a key is shown once, at creation."""

import uuid

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse

from app.auth import service
from app.auth.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut
from app.core.api import API_PREFIX
from app.core.db import SessionDep
from app.core.errors import Forbidden, NotFound, Unauthorized, UnsupportedMediaType, responses
from app.core.pagination import Page, PageDep
from app.core.security import Admin, AuthenticatedRoute

router = APIRouter(
    route_class=AuthenticatedRoute,
    prefix=f"{API_PREFIX}/api-keys",
    tags=["api-keys"],
    responses=responses(Unauthorized, Forbidden),
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiKeyCreated,
    responses=responses(UnsupportedMediaType),
)
async def create_api_key(body: ApiKeyCreate, session: SessionDep, _: Admin) -> JSONResponse:
    """Create an API key with scopes; the response holds the key, shown this once."""
    api_key, key = await service.create_api_key(
        session, name=body.name, scopes=body.scopes, person=body.person
    )
    created = ApiKeyCreated(**ApiKeyOut.model_validate(api_key).model_dump(), key=key)
    return JSONResponse(
        created.model_dump(mode="json"),
        status_code=201,
        headers={"Location": f"{API_PREFIX}/api-keys/{api_key.id}", "Cache-Control": "no-store"},
    )


@router.get("", response_model=Page[ApiKeyOut])
async def list_api_keys(session: SessionDep, page: PageDep, _: Admin) -> Page[ApiKeyOut]:
    """List API keys, newest first, without their secrets."""
    rows = await service.list_api_keys(session, page)
    return rows.to_page(ApiKeyOut.model_validate)


@router.delete("/{key_id}", response_model=ApiKeyOut, responses=responses(NotFound))
async def revoke_api_key(
    key_id: uuid.UUID, request: Request, session: SessionDep, _: Admin
) -> ApiKeyOut:
    """Revoke an API key; revoking twice is harmless.

    It stops working at once on this process, and within `MUSTER_API_KEY_CACHE_SECONDS`
    on the others (they keep recently valid keys that long).
    """
    revoked = await service.revoke_api_key(session, key_id=key_id, cache=request.app.state.api_keys)
    return ApiKeyOut.model_validate(revoked)
