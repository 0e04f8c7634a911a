"""Where the versioned API lives. Domain routers carry the full prefix themselves,
so a route's template (used in metrics and logs) is its real path."""

API_PREFIX = "/api/v1"
