"""The ceilings Muster is measured against, served by the same uvicorn set-up:

- POST /parse: a bare FastAPI endpoint that parses the same Alertmanager body and answers;
- GET /page: raw asyncpg, a keyset page of 50 incidents serialised to JSON (no ORM).
"""

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI, Request, Response

from app.integrations.alertmanager import AlertmanagerPayload

PAGE = """
SELECT id, number, title, summary, severity, status, services, labels, commander,
       caused_by_deploy_id, source, recurrence_of, started_at, created_at, updated_at,
       acknowledged_at, investigating_at, mitigated_at, resolved_at, closed_at
FROM incidents ORDER BY created_at DESC, id DESC LIMIT 50
"""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    dsn = os.environ["BENCH_DSN"]
    app.state.pool = await asyncpg.create_pool(dsn, min_size=4, max_size=10)
    yield
    await app.state.pool.close()


app = FastAPI(lifespan=lifespan)


@app.post("/parse")
async def parse(payload: AlertmanagerPayload) -> dict[str, str]:
    return {"status": "accepted", "group": payload.groupKey[:8]}


@app.get("/page")
async def page(request: Request) -> Response:
    async with request.app.state.pool.acquire() as connection:
        rows = await connection.fetch(PAGE)
    items = [{k: (v if isinstance(v, int | str | None) else str(v)) for k, v in row.items()} for row in rows]
    return Response(json.dumps({"items": items, "next_cursor": None}), media_type="application/json")
