"""Where the versioned API lives. Domain routers carry the full prefix themselves,
so a route's template (used in metrics and logs) is its real path."""

from fastapi.routing import APIRoute

API_PREFIX = "/api/v1"


def operation_id(route: APIRoute) -> str:
    """A route's stable OpenAPI operation id: `{tag}-{name}` (`incidents-create-incident`)."""
    if route.operation_id:
        return route.operation_id
    tag = str(route.tags[0]) if route.tags else "default"
    return f"{tag}-{route.name.replace('_', '-')}"
