"""What an SRE feels: time to page, an alert storm, latency at a steady offered load.

Three processes of their own, apart from the server, so that neither steals the
server's event loop:

- `python -m bench.page receive PORT`: the SRE receiver. It notes when each page
  arrives (wall clock, the same machine's as the sender's) and which alert group it is
  about, and answers `GET /pages` with everything it noted.
- `python -m bench.page alerts …`: Alertmanager notifications of new groups, either
  at a fixed rate (open loop) or as a storm of concurrent senders; prints one JSON
  line with, per group, when its notification was answered.
- `python -m bench.page steady …`: an open-loop load generator. Requests are due at
  fixed times (`rate` a second); each one's latency is measured from when it was due,
  not from when it was sent, so a stall in the server shows as latency instead of
  as requests not sent (no coordinated omission). It reports its own CPU share, so a
  generator that fell behind is seen.
"""

import argparse
import asyncio
import json
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import uvicorn

from app.core.aggregates import nearest_rank

# --- the receiver --------------------------------------------------------------------


class Receiver:
    """An ASGI app: POSTs are pages, GET /pages lists them."""

    def __init__(self) -> None:
        self.pages: list[dict[str, Any]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        arrived = time.time()
        if scope["method"] == "POST":
            headers = dict(scope["headers"])
            event = orjson.loads(body)
            labels = event.get("data", {}).get("incident", {}).get("labels", {})
            self.pages.append(
                {
                    "at": arrived,
                    "group": labels.get("bench_group"),
                    "webhook_id": headers.get(b"webhook-id", b"").decode(),
                    "type": event.get("type"),
                }
            )
            answer = b""
        else:
            answer = orjson.dumps(self.pages)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": answer})


def receive(port: int) -> None:
    uvicorn.run(Receiver(), host="127.0.0.1", port=port, log_level="warning", access_log=False)


# --- Alertmanager notifications of new groups ------------------------------------------


def notification(group: str) -> bytes:
    """A firing notification of 5 alerts, shaped like Alertmanager's (version 4)."""
    common = {"alertname": "BenchPage", "service": "svc-page", "severity": "critical"}
    alerts = [
        {
            "status": "firing",
            "labels": common | {"instance": f"i-{i}", "bench_group": group},
            "annotations": {"summary": "page latency probe"},
            "startsAt": "2026-11-28T14:01:26.07Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus/graph",
            "fingerprint": f"{uuid.uuid5(uuid.NAMESPACE_OID, group).hex[:14]}{i:02d}",
        }
        for i in range(5)
    ]
    return orjson.dumps(
        {
            "receiver": "muster",
            "status": "firing",
            "alerts": alerts,
            "groupLabels": {"bench_group": group},
            "commonLabels": common | {"bench_group": group},
            "commonAnnotations": {"summary": "page latency probe"},
            "externalURL": "http://alertmanager:9093",
            "version": "4",
            "groupKey": f'{{}}:{{bench_group="{group}"}}',
            "truncatedAlerts": 0,
        }
    )


async def send_alerts(args: argparse.Namespace) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {args.token}", "Content-Type": "application/json"}
    groups = [f"{args.tag}-{i}" for i in range(args.count)]
    path = "/api/v1/webhooks/alertmanager"
    requests = {g: raw_request("POST", args.url, path, headers, notification(g)) for g in groups}
    connections = Connections(*_host_port(args.url))
    answered: dict[str, float] = {}
    statuses: dict[str, int] = {}

    async def post(group: str) -> None:
        statuses[group] = await asyncio.wait_for(connections.request(requests[group]), 60)
        answered[group] = time.time()

    started = time.time()
    if args.concurrency:  # a storm: that many senders, each posting its share back to back
        queue = list(reversed(groups))

        async def sender() -> None:
            while queue:
                await post(queue.pop())

        await asyncio.gather(*(sender() for _ in range(args.concurrency)))
    else:
        await open_loop(args.rate, len(groups), lambda i: post(groups[i]))
    connections.close()
    return {"started": started, "answered": answered, "statuses": statuses}


# --- open-loop load ---------------------------------------------------------------------


async def open_loop(
    rate: float, count: int, request: Callable[[int], Awaitable[None]]
) -> list[float]:
    """Starts request i at `start + i / rate`, whatever earlier ones are doing; returns
    each one's latency in ms from when it was due."""
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05
    latencies: list[float] = []

    async def one(i: int, due: float) -> None:
        await request(i)
        latencies.append((loop.time() - due) * 1000)

    tasks = []
    for i in range(count):
        due = start + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    return latencies


class Connections:
    """Keep-alive HTTP/1.1 connections to one server, for requests built as bytes once.

    The senders run at hundreds of requests a second on the server's own cores: a
    general client (httpx) spends about a millisecond of CPU on each and became the
    bottleneck it was meant to measure. This one writes prepared bytes and reads the
    status line, the headers and a Content-Length body (what uvicorn sends), no more.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def request(self, raw: bytes) -> int:
        """Sends `raw` on an idle connection (a new one when none is), returns the status.

        A kept-alive connection the server closed meanwhile (idle past its keep-alive
        timeout) answers nothing at all: the request is sent again on a new one."""
        reused = bool(self.idle)
        reader, writer = self.idle.pop() if reused else await self._open()
        writer.write(raw)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            if not reused or getattr(exc, "partial", b""):
                raise
            writer.close()
            reader, writer = await self._open()
            writer.write(raw)
            head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await reader.readexactly(length)
        self.idle.append((reader, writer))
        return status

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(self.host, self.port)

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()


def _host_port(url: str) -> tuple[str, int]:
    host, port = url.split("//", 1)[1].rsplit(":", 1)
    return host, int(port)


def raw_request(method: str, url: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    host = url.split("//", 1)[1]
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def steady(args: argparse.Namespace) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {args.token}", "Content-Type": "application/json"}
    connections = Connections(*_host_port(args.url))
    errors = 0
    get = raw_request("GET", args.url, args.path, headers)

    def prepared(i: int) -> bytes:
        if args.kind == "create":
            body = orjson.dumps({"title": f"steady {args.tag} {i}"})
            keyed = headers | {"Idempotency-Key": f"{args.tag}-{i}"}
            return raw_request("POST", args.url, "/api/v1/incidents", keyed, body)
        if args.kind == "ingest":  # the bench's mix: 80 % repeats of 20 known groups
            group = f"{args.tag}-{i}" if i % 5 == 0 else f"steady-repeat-{i % 20}"
            path = "/api/v1/webhooks/alertmanager"
            return raw_request("POST", args.url, path, headers, notification(group))
        return get

    count = int(args.rate * args.seconds)
    bodies = [prepared(i) for i in range(count)]  # built before the clock starts
    if args.kind == "ingest":  # the repeated groups are known before the clock starts too
        path = "/api/v1/webhooks/alertmanager"
        for n in range(20):
            repeat = notification(f"steady-repeat-{n}")
            await connections.request(raw_request("POST", args.url, path, headers, repeat))

    async def request(i: int) -> None:
        nonlocal errors
        try:
            status = await asyncio.wait_for(connections.request(bodies[i]), 30)
        except (OSError, asyncio.IncompleteReadError, TimeoutError):
            errors += 1  # a timeout under overload is an error, not the end of the run
            return
        errors += not 200 <= status < 300

    cpu, wall = time.process_time(), time.monotonic()
    latencies = await open_loop(args.rate, count, request)
    cpu_share = (time.process_time() - cpu) / (time.monotonic() - wall)
    connections.close()
    return {
        "requests": len(latencies),
        "errors": errors,
        "p50_ms": percentile(latencies, 0.50),
        "p99_ms": percentile(latencies, 0.99),
        "client_cpu_share": round(cpu_share, 3),
    }


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank, as Muster's own reports define percentiles; 0 when there are none."""
    found = nearest_rank(values, q * 100)
    return 0.0 if found is None else round(found, 1)


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.page")
    commands = parser.add_subparsers(dest="command", required=True)
    receiver = commands.add_parser("receive")
    receiver.add_argument("port", type=int)
    alerts = commands.add_parser("alerts")
    load = commands.add_parser("steady")
    for command in (alerts, load):
        command.add_argument("--url", required=True)
        command.add_argument("--token", required=True)
        command.add_argument("--tag", default=uuid.uuid4().hex[:8])
        command.add_argument("--rate", type=float, default=20.0)
    alerts.add_argument("--count", type=int, default=200)
    alerts.add_argument("--concurrency", type=int, default=0, help="a storm of senders")
    load.add_argument("--kind", choices=["create", "ingest", "get"], required=True)
    load.add_argument("--path", default="")
    load.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    if args.command == "receive":
        receive(args.port)
        return
    run = send_alerts if args.command == "alerts" else steady
    sys.stdout.write(json.dumps(asyncio.run(run(args))) + "\n")


if __name__ == "__main__":
    main()
