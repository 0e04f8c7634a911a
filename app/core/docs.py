"""Swagger UI at /docs, from assets shipped in an installed package: no CDN, air-gapped.

Its configuration is a script of its own (no inline script, so a strict Content Security
Policy can allow `'self'` alone). It gives every create that takes an `Idempotency-Key`
one, so that a double click on Execute replays the first response instead of creating
twice: the same request sent again within `REPEAT_SECONDS` reuses its key, any other
request gets a fresh one, and a key typed into the form is left as it is.
"""

import json
import re
from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

SWAGGER_ASSETS = Path(fastapi_offline.__file__).parent / "static"
IDEMPOTENCY_HEADER = "idempotency-key"
# Long enough for a double click or an impatient second click, short enough that a
# second incident opened from the same example a little later is a new incident.
REPEAT_SECONDS = 10
# The page and its assets come from this origin only; never shown in a frame.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; "
        # Swagger UI sets style attributes and draws its icons as data: images.
        "style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Frame-Options": "DENY",
}

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Muster API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<link rel="icon" href="/docs/assets/favicon.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/muster-swagger.js"></script>
</body>
</html>
"""

_SCRIPT = """"use strict";
// Muster's Swagger UI set-up (app/core/docs.py).
const IDEMPOTENT = %(idempotent)s;  // [method, path pattern] of the creates with a key
const REPEAT_MS = %(repeat_ms)d;
const sent = new Map();  // request -> {key, at}

function freshKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));  // also without HTTPS
  return "swagger-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function withIdempotencyKey(request) {
  const method = (request.method || "GET").toUpperCase();
  const path = new URL(request.url, window.location.href).pathname;
  if (!IDEMPOTENT.some(([m, pattern]) => m === method && new RegExp(pattern).test(path))) {
    return request;
  }
  request.headers = request.headers || {};
  if (Object.keys(request.headers).some((name) => name.toLowerCase() === "%(header)s")) {
    return request;  // typed into the form
  }
  const body = typeof request.body === "string" ? request.body : JSON.stringify(request.body);
  const id = method + " " + path + "\\n" + body;
  const now = Date.now();
  const last = sent.get(id);
  const key = last && now - last.at < REPEAT_MS ? last.key : freshKey();
  sent.set(id, {key: key, at: now});
  request.headers["Idempotency-Key"] = key;
  return request;
}

// Authorize opens on the first scheme, the API key: Swagger UI focuses the basic-auth
// username field of a later scheme, which scrolls the dialog past the one people need.
new MutationObserver(() => {
  const dialog = document.querySelector(".dialog-ux .modal-ux");
  if (dialog && !dialog.dataset.musterFocused) {
    dialog.dataset.musterFocused = "1";
    const first = dialog.querySelector(".auth-container input");
    if (first) first.focus();
    dialog.querySelector(".modal-ux-content").scrollTop = 0;
  }
}).observe(document.body, {childList: true, subtree: true});

window.ui = SwaggerUIBundle(Object.assign(%(parameters)s, {
  dom_id: "#swagger-ui",
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  layout: "BaseLayout",
  requestInterceptor: withIdempotencyKey,
}));
"""


def _idempotent_operations(document: dict[str, Any]) -> list[tuple[str, str]]:
    """`[method, anchored path pattern]` of each operation that takes an Idempotency-Key."""
    return [
        (method.upper(), "^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$")
        for path, operations in document.get("paths", {}).items()
        for method, operation in operations.items()
        if any(
            p["in"] == "header" and p["name"].lower() == IDEMPOTENCY_HEADER
            for p in operation.get("parameters", [])
        )
    ]


def mount_docs(app: FastAPI, parameters: dict[str, Any]) -> None:
    """Serve Swagger UI with `parameters` (Swagger UI's own configuration names)."""
    app.mount("/docs/assets", StaticFiles(directory=SWAGGER_ASSETS), name="swagger-assets")
    settings = {"url": app.openapi_url, "deepLinking": True, **parameters}

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return HTMLResponse(_PAGE, headers=PAGE_HEADERS)

    @app.get("/docs/muster-swagger.js", include_in_schema=False)
    async def swagger_setup() -> Response:
        script = _SCRIPT % {
            "idempotent": json.dumps(_idempotent_operations(app.openapi())),
            "repeat_ms": REPEAT_SECONDS * 1000,
            "header": IDEMPOTENCY_HEADER,
            "parameters": json.dumps(settings),
        }
        return Response(script, media_type="text/javascript")
