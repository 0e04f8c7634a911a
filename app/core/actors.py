"""Who a write is made by: the request's actor, and the credential behind it.

Every request that writes has one actor. A personal key's (or an SSO token's) actor is
its person. A service key's actor is the service itself, `service:<key name>`, unless
the key holds the `act-as` scope and names a person: in the `Muster-Acting-For` header,
or, for compatibility, in the body field that names who did it (`Actor.claim`). Nothing
else a body says about the caller is believed: naming someone else is a 403
`actor-mismatch`. Records keep both the handle and the credential (`Via`).
"""

import functools
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from pydantic import BaseModel, ConfigDict, Field

from app.core.errors import Conflict, FieldProblem, Forbidden, InvalidInput
from app.core.handles import SERVICE_PREFIX, fold, normalise_handle
from app.core.security import (
    Credential,
    Principal,
    Scope,
    authenticate_early,
    authenticates_first,
    check_scope,
    require,
)

ACTING_FOR_HEADER = "Muster-Acting-For"


class Via(BaseModel):
    """The credential a write was made with (null on records older than actors)."""

    model_config = ConfigDict(
        frozen=True,
        json_schema_extra={
            "example": {"credential": "api_key", "key_id": None, "key_name": "chat-bot"}
        },
    )

    credential: Credential
    key_id: uuid.UUID | None = Field(default=None, description="The API key's id")
    key_name: str | None = Field(default=None, description="The API key's name")
    subject: str | None = Field(default=None, description="The SSO token's subject (`sub`)")

    @classmethod
    def of(cls, principal: Principal) -> "Via":
        if principal.credential is Credential.OIDC:
            return cls(credential=principal.credential, subject=principal.name)
        return cls(
            credential=principal.credential, key_id=principal.key_id, key_name=principal.name
        )

    def stored(self) -> dict[str, Any]:
        """The form kept in a record's JSON `…via` column."""
        return self.model_dump(mode="json")


class ActorMismatch(Forbidden):
    code, title = "actor-mismatch", "Not the caller"

    def __init__(self, detail: str, *, actor: str) -> None:
        super().__init__(detail, extra={"actor": actor})


class FourEyes(Conflict):
    code, title = "four-eyes", "A second person is required"


@dataclass(frozen=True)
class Actor:
    """The person or service a request writes as, and the credential it used.

    `handle` is a person's normalised handle, or `service:<key name>`. `may_act_for` is
    true for an `act-as` service key that has not named a person in the header yet: it
    may still name one in the body (`claim`).
    """

    handle: str
    via: Via
    is_person: bool
    may_act_for: bool = False

    def claim(self, named: str | None, *, field: str) -> "Actor":
        """The actor of a record whose body field `field` names `named` (None: the actor).

        `named` is a `Handle` (normalised by the schema). Naming someone other than the
        actor is refused, unless an `act-as` key names the person it acts for.
        """
        if named is None or named == self.handle:
            return self
        if self.may_act_for:
            return replace(self, handle=named, is_person=True, may_act_for=False)
        raise ActorMismatch(
            f"This request acts as {self.handle}: `{field}` cannot name {named}. Leave it "
            f"out, or use a key of {named}'s (an `act-as` key may name the person it acts for)",
            actor=self.handle,
        )

    def is_same_person(self, handle: str | None) -> bool:
        """Whether `handle` (as stored, perhaps before handles were normalised) is this actor."""
        return handle is not None and fold(handle) == self.handle

    def require_person(self, step: str) -> None:
        """Refuse `step` (409 `four-eyes`) to a service acting as itself."""
        if not self.is_person:
            raise FourEyes(
                f"{self.handle} is a service: only a person can {step}. Use a personal key, "
                f"or an `act-as` key with `{ACTING_FOR_HEADER}: <handle>`"
            )

    def require_second_person(self, first: str | None, step: str, *, field: str = "first") -> None:
        """Four eyes: refuse `step` to a service, and to `first`, the person before it.

        The problem names `first` under `field` (e.g. `requested_by`).
        """
        self.require_person(step)
        if self.is_same_person(first):
            raise FourEyes(
                f"{self.handle} cannot {step}: it needs a second person, not {first}",
                extra={field: first},
            )


def resolve_actor(principal: Principal, acting_for: str | None) -> Actor:
    """The actor of a request by `principal`, with its `Muster-Acting-For` header if sent."""
    via = Via.of(principal)
    named = _acting_for(acting_for) if acting_for is not None else None
    if principal.person is not None:
        actor = Actor(handle=principal.person, via=via, is_person=True)
        return actor.claim(named, field=f"header.{ACTING_FOR_HEADER}")
    service = Actor(handle=f"{SERVICE_PREFIX}{principal.name}", via=via, is_person=False)
    if not principal.can(Scope.ACT_AS):
        return service.claim(named, field=f"header.{ACTING_FOR_HEADER}")
    if named is None:
        return replace(service, may_act_for=True)
    return Actor(handle=named, via=via, is_person=True)


def _acting_for(raw: str) -> str:
    """The header's handle. HTTP carries header bytes; Starlette reads them as Latin-1."""
    field = f"header.{ACTING_FOR_HEADER}"
    try:
        return normalise_handle(raw.encode("latin-1").decode("utf-8"))
    except UnicodeError:
        message = "not UTF-8"
    except ValueError as exc:
        message = str(exc)
    raise InvalidInput(
        f"Invalid input: {field}",
        errors=[FieldProblem(field=field, message=message, type="handle")],
    )


ActingFor = Annotated[
    str | None,
    Header(
        alias=ACTING_FOR_HEADER,
        description="For an `act-as` service key: the handle of the person it acts for "
        "(UTF-8). Other keys may only name their own person",
    ),
]


@functools.cache
def acting(scope: Scope) -> Callable[..., Coroutine[Any, Any, Actor]]:
    """A dependency: the request's actor, for a caller that holds `scope`.

    Like `require`, it checks the caller (and the header) before the body is read.
    """
    principal_of = require(scope)

    async def dependency(
        principal: Annotated[Principal, Depends(principal_of)], acting_for: ActingFor = None
    ) -> Actor:
        return resolve_actor(principal, acting_for)

    async def gate(request: Request) -> None:
        principal = await authenticate_early(request)
        check_scope(principal, scope)
        resolve_actor(principal, request.headers.get(ACTING_FOR_HEADER))

    authenticates_first(dependency, gate)
    return dependency


IncidentActor = Annotated[Actor, Depends(acting(Scope.INCIDENTS_WRITE))]
AdminActor = Annotated[Actor, Depends(acting(Scope.ADMIN))]
