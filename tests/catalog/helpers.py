"""Driving the catalog through the API and the `muster services import` command."""

import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from tests.processes import MUSTER, muster_env


async def create(client: httpx.AsyncClient, name: str, **fields: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/services", json={"name": name, **fields})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def service(client: httpx.AsyncClient, name: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/services/{name}")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def names(client: httpx.AsyncClient, **params: Any) -> list[str]:
    response = await client.get("/api/v1/services", params={"limit": 200} | params)
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()["items"]]


def import_file(app: FastAPI, path: Path) -> subprocess.CompletedProcess[str]:
    """`muster services import PATH` against the test app's database."""
    return subprocess.run(
        [MUSTER, "services", "import", str(path)],
        env=muster_env(app.state.settings.database_url),
        capture_output=True,
        text=True,
        cwd=path.parent,
        timeout=60,
    )


def write_json(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document))
    return path
