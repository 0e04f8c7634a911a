"""`If-Match` preconditions (RFC 9110): parsed once, for every resource with an `ETag`."""

import re

from app.core.errors import BadRequest, FieldProblem, PreconditionFailed, PreconditionRequired

_ENTITY_TAGS = re.compile(r'^\s*(\*|(W/)?"[^"]*"(\s*,\s*(W/)?"[^"]*")*)\s*$')


def check_if_match(
    current: str | None, if_match: str | None, *, what: str, required: bool = False
) -> None:
    """Refuse the request unless `if_match` names `current` (the resource's strong tag,
    None when it does not exist). `required`: a missing `If-Match` is a 428."""
    if if_match is None:
        if required and current is not None:
            raise PreconditionRequired(
                f"Send If-Match with the ETag of {what} you read, so that a change made "
                "meanwhile is not overwritten",
                extra={"current_etag": current},
            )
        return
    if not _ENTITY_TAGS.match(if_match):
        raise BadRequest(
            'If-Match must be `*` or a list of quoted entity tags, e.g. "abc.3"',
            errors=[
                FieldProblem(field="header.If-Match", message="not an entity tag", type="etag")
            ],
        )
    tags = [tag.strip() for tag in if_match.split(",")]
    if current is None:
        raise PreconditionFailed(f"{what} does not exist yet: send no If-Match")
    if "*" not in tags and current not in tags:  # weak tags never match (RFC 9110)
        raise PreconditionFailed(
            f"{what} has changed since you read it; it is now at {current}",
            extra={"current_etag": current},
        )
