"""`make bench`: Muster against its ceilings, on PostgreSQL, driven by wrk on loopback.

Starts Muster as a real `muster serve` process (1 worker, then 2), seeds data, and in
the same run serves the ceilings (bench/ceiling.py: parse-only FastAPI, raw asyncpg
page). Each workload: 32 connections, a warm-up, then two 10 s runs; ingestion,
creation and the timeline also at 4 connections, below saturation. Prints a table and,
last, one JSON line.
"""

import asyncio
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import httpx

from bench.page import percentile

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
BASE_URL = os.environ.get("MUSTER_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DURATION = os.environ.get("BENCH_DURATION", "10s")
WARMUP = os.environ.get("BENCH_WARMUP", "3s")
CONNECTIONS = 32
# Below saturation: latency then shows the work of one request, not the queue in front
# of it (at 32 busy connections the mean is 32 ÷ the rate, whatever the code).
LIGHT_CONNECTIONS = 4
ADMIN_KEY = "bench-admin-key-0123456789"
AM_TOKEN = "bench-am-token"
SMALL, LARGE, TIMELINE = 1_000, 200_000, 10_000
AM_PATH = "/api/v1/webhooks/alertmanager"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url} exited:\n{log.read_text()}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} not ready:\n{log.read_text()}")


class Server:
    def __init__(self, name: str, argv: list[str], env: dict[str, str], ready_path: str, tmp: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / f"{name}.log"
        env = env | {"MUSTER_PORT": str(self.port), "MUSTER_HOST": "127.0.0.1"}
        argv = [a.replace("{port}", str(self.port)) for a in argv]
        self.process = subprocess.Popen(argv, env=env, stdout=self.log.open("w"), stderr=subprocess.STDOUT)
        wait_ready(self.url + ready_path, self.process, self.log)

    def cpu_seconds(self) -> float:
        """CPU time used so far by the server and its worker processes (Linux /proc)."""
        total, pending = 0.0, [self.process.pid]
        while pending:
            pid = pending.pop()
            try:
                stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except OSError:  # gone meanwhile
                continue
            total += (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
            pending += [int(child) for child in children]
        return total

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def wrk(
    url: str,
    script: str,
    *args: str,
    duration: str = DURATION,
    env: dict[str, str] | None = None,
    connections: int = CONNECTIONS,
) -> dict[str, float]:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{duration}", "--latency", "-s", str(HERE / "lua" / script), url]
    if args:
        command += ["--", *args]
    out = subprocess.run(command, capture_output=True, text=True, env=os.environ | (env or {}), check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latency = {p: _ms(v, u) for p, v, u in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    total = re.search(r"(\d+) requests in", out)
    return {
        "rps": rps,
        "p50": latency.get("50", 0.0),
        "p99": latency.get("99", 0.0),
        "errors": float(errors.group(1)) if errors else 0.0,
        "requests": float(total.group(1)) if total else 0.0,
    }


def measure(
    server: Server,
    script: str,
    *args: str,
    path: str = "",
    env: dict[str, str] | None = None,
    connections: int = CONNECTIONS,
) -> dict[str, float]:
    """Warm up, then two runs; report the mean of both and each run's figures.

    Beside wrk's figures, the server's CPU time per request: steadier than requests a
    second on a machine whose speed drifts, and comparable between workloads.
    """
    url = server.url + path
    tagged = script != "get.lua"  # write workloads get a fresh tag per run (new groups, keys)
    wrk(url, script, *args, *(("warmup",) if tagged else ()), duration=WARMUP, env=env, connections=connections)
    runs = []
    for rep in range(2):
        extra = (f"rep{rep}-{uuid.uuid4().hex[:6]}",) if tagged else ()
        before = server.cpu_seconds()
        run = wrk(url, script, *args, *extra, env=env, connections=connections)
        run["cpu_ms"] = (server.cpu_seconds() - before) * 1000 / max(run["requests"], 1)
        runs.append(run)
    result = {k: statistics.mean(r[k] for r in runs) for k in runs[0]}
    result["runs"] = [round(r["rps"], 1) for r in runs]  # type: ignore[assignment]
    return result


SEED_INCIDENTS = """
INSERT INTO incidents (id, number, title, summary, severity, status, services, labels, source,
                       version, started_at, created_at, updated_at)
SELECT gen_random_uuid(), n, 'Seeded incident ' || n, 'seeded for the benchmark',
       (ARRAY['sev1','sev2','sev3','sev4'])[1 + n % 4],
       (ARRAY['triggered','acknowledged','investigating','mitigated','resolved','closed'])[1 + n % 6],
       jsonb_build_array('svc-' || (n % 50)), '{}'::jsonb, 'api', 1,
       now() - interval '1 second' * ($2 - n) - interval '1 hour',
       now() - interval '1 second' * ($2 - n) - interval '1 hour',
       now() - interval '1 second' * ($2 - n) - interval '1 hour'
FROM generate_series($1::int, $2::int) AS n
"""
SEED_TIMELINE = """
INSERT INTO timeline_entries (id, incident_id, kind, summary, author, data, occurred_at, created_at)
SELECT gen_random_uuid(), $1, 'note', 'Entry ' || n, 'bench', '{}'::jsonb,
       now() - interval '1 second' * ($2 - n), now()
FROM generate_series(1, $2::int) AS n
"""


async def seed(dsn: str, start: int, end: int) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(SEED_INCIDENTS, start, end)
        await connection.execute("SELECT setval('incident_number_seq', $1)", end)
        await connection.execute("VACUUM ANALYZE incidents")  # no autovacuum mid-measurement
        await connection.execute("CHECKPOINT")  # nor the seeding's checkpoint
    finally:
        await connection.close()


async def drain(dsn: str) -> None:
    """Wait until the dispatcher has fanned out every event: a write workload's backlog
    must not run into the next workload's measurement."""
    connection = await asyncpg.connect(dsn)
    try:
        for _ in range(600):
            left = await connection.fetchval(
                "SELECT count(*) FROM outbox_events WHERE fanned_out_at IS NULL"
            )
            if not left:
                return
            await asyncio.sleep(0.2)
        raise SystemExit(f"the dispatcher did not drain the outbox ({left} events left)")
    finally:
        await connection.close()


async def seed_timeline(dsn: str, incident_id: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(SEED_TIMELINE, uuid.UUID(incident_id), TIMELINE)
        await connection.execute("VACUUM ANALYZE timeline_entries")
        await connection.execute("CHECKPOINT")
    finally:
        await connection.close()


def muster_env(sa_url: str, workers: int) -> dict[str, str]:
    return os.environ | {
        "MUSTER_DATABASE_URL": sa_url,
        "MUSTER_ADMIN_API_KEY": ADMIN_KEY,
        "MUSTER_ALERTMANAGER_TOKEN": AM_TOKEN,
        "MUSTER_WORKERS": str(workers),
        "MUSTER_LOG_LEVEL": "WARNING",
    }


def create_key(env: dict[str, str]) -> str:
    out = subprocess.run(
        [str(BIN / "muster"), "create-api-key", "--name", "bench", "--scopes", "incidents:write"],
        env=env, capture_output=True, text=True, check=True,
    )
    return out.stdout.strip()


def row(name: str, figures: dict[str, float]) -> str:
    runs = ", ".join(str(r) for r in figures.get("runs", []))  # type: ignore[union-attr]
    return (
        f"{name:<44} {figures['rps']:>9.1f} {figures['p50']:>8.1f} {figures['p99']:>8.1f} "
        f"{figures['cpu_ms']:>7.2f} {int(figures['errors']):>6}  [{runs}]"
    )


PAGE_RATE, PAGE_SECONDS = 20, 10
STORM_GROUPS, STORM_SENDERS = 1_000, 50
SRE_SECRET = "bench-sre-signing-secret-0123456789"


def rss_mb(server: Server) -> float:
    """Resident memory of the server's serving worker (the largest leaf of its tree)."""
    leaves, pending = [], [server.process.pid]
    while pending:
        pid = pending.pop()
        try:
            children = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except OSError:
            continue
        pending += children
        if not children:
            leaves.append(pid)
    sizes = []
    for pid in leaves:
        status = Path(f"/proc/{pid}/status").read_text()
        sizes.append(int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024)
    return round(max(sizes), 1)


def tool(*args: str) -> dict[str, object]:
    """Runs `python -m bench.page …` in its own process; its JSON answer."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.page", *args],
        capture_output=True, text=True, cwd=HERE.parent,
    )
    if done.returncode != 0:  # say why: the tool's own traceback, not only its exit status
        sys.exit(f"bench.page {' '.join(args[:1])} failed ({done.returncode}):\n{done.stderr}")
    return json.loads(done.stdout.splitlines()[-1])


def pages(receiver: Server) -> list[dict[str, object]]:
    return httpx.get(f"{receiver.url}/pages", timeout=10).json()


def wait_for_pages(receiver: Server, groups: set[str], seconds: float) -> dict[str, list[float]]:
    """Each group's page arrival times, once every group has one (or time is up)."""
    deadline = time.monotonic() + seconds
    while True:
        arrivals: dict[str, list[float]] = {}
        for page in pages(receiver):
            # SRE targets are paged with incident.escalated (level 0 at creation)
            if page["group"] in groups and page["type"] == "incident.escalated":
                arrivals.setdefault(page["group"], []).append(page["at"])
        if len(arrivals) == len(groups) or time.monotonic() > deadline:
            return arrivals
        time.sleep(0.2)


def time_to_page(server: Server, receiver: Server, tag: str) -> dict[str, float]:
    """Notification answered → the SRE receiver has the page, at PAGE_RATE new groups/s."""
    sent = tool(
        "alerts", "--url", server.url, "--token", AM_TOKEN, "--tag", tag,
        "--rate", str(PAGE_RATE), "--count", str(PAGE_RATE * PAGE_SECONDS),
    )
    answered = sent["answered"]
    arrivals = wait_for_pages(receiver, set(answered), 30)
    waits = sorted((min(arrivals[g]) - at) * 1000 for g, at in answered.items() if g in arrivals)
    return {
        "p50": percentile(waits, 0.5),
        "p99": percentile(waits, 0.99),
        "lost": len(answered) - len(arrivals),
        "errors": sum(code != 200 for code in sent["statuses"].values()),
    }


def storm(server: Server, receiver: Server, dsn: str, tag: str) -> dict[str, float]:
    """STORM_GROUPS new groups from STORM_SENDERS concurrent senders: first send → last page."""
    sent = tool(
        "alerts", "--url", server.url, "--token", AM_TOKEN, "--tag", tag,
        "--count", str(STORM_GROUPS), "--concurrency", str(STORM_SENDERS),
    )
    groups = set(sent["statuses"])
    arrivals = wait_for_pages(receiver, groups, 120)
    last = max((min(times) for times in arrivals.values()), default=sent["started"])

    async def incidents_per_group() -> list[int]:
        connection = await asyncpg.connect(dsn)
        try:
            rows = await connection.fetch(
                "SELECT count(*) AS n FROM incidents WHERE labels->>'bench_group' LIKE $1 "
                "GROUP BY labels->>'bench_group'", f"{tag}-%",
            )
        finally:
            await connection.close()
        return [row["n"] for row in rows]

    counts = asyncio.run(incidents_per_group())
    return {
        "drain_s": round(last - sent["started"], 2),
        "answered_s": round(max(sent["answered"].values()) - sent["started"], 2),
        "lost": len(groups) - len(arrivals) + (len(groups) - len(counts)),
        "duplicated": sum(n - 1 for n in counts) + sum(len(t) - 1 for t in arrivals.values()),
        "errors": sum(code != 200 for code in sent["statuses"].values()),
    }


def steady(server: Server, kind: str, capacity: float, token: str, path: str = "") -> dict[str, float]:
    """Open-loop latency at half of `capacity` (requests a second, measured in this run)."""
    result = tool(
        "steady", "--url", server.url, "--token", token, "--kind", kind, "--path", path,
        "--rate", str(round(capacity / 2, 1)), "--seconds", "10",
    )
    return result  # type: ignore[return-value]


def paging(sa_url: str, dsn: str, tmp: Path, servers: list["Server"]) -> dict[str, dict[str, float]]:
    """Time to page on PostgreSQL and SQLite, then the storm: the rows an SRE feels."""
    results: dict[str, dict[str, float]] = {}
    receiver = Server("receiver", [sys.executable, "-m", "bench.page", "receive", "{port}"], os.environ, "/pages", tmp)
    servers.append(receiver)
    sre = {"MUSTER_SRE_NOTIFY_URLS": f"{receiver.url}/sre", "MUSTER_SRE_NOTIFY_SECRET": SRE_SECRET}
    print("time to page, alert storm …", file=sys.stderr)
    for name, env in (
        ("page", muster_env(sa_url, 1) | sre),
        ("page_sqlite", muster_env(f"sqlite+aiosqlite:///{tmp / 'page.db'}", 1) | sre),
    ):
        server = Server(f"muster-{name}", [str(BIN / "muster"), "serve"], env, "/readyz", tmp)
        servers.append(server)
        results[name] = time_to_page(server, receiver, f"{name}-{uuid.uuid4().hex[:6]}")
        server.stop()
        servers.remove(server)
    stormed = Server("muster-storm", [str(BIN / "muster"), "serve"], muster_env(sa_url, 2) | sre, "/readyz", tmp)
    servers.append(stormed)
    results["storm"] = storm(stormed, receiver, dsn, f"storm-{uuid.uuid4().hex[:6]}")
    return results


def main() -> None:
    cores = os.cpu_count() or 1
    db = f"muster_bench_{uuid.uuid4().hex[:8]}"
    base = BASE_URL.rsplit("/", 1)[0]
    dsn, sa_url = f"{base}/{db}", f"{base}/{db}".replace("postgresql://", "postgresql+asyncpg://", 1)
    async def create_db() -> None:
        connection = await asyncpg.connect(BASE_URL)
        await connection.execute(f'CREATE DATABASE "{db}"')
        await connection.close()

    async def drop_db() -> None:
        connection = await asyncpg.connect(BASE_URL)
        await connection.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await connection.close()

    asyncio.run(create_db())
    tmp = Path(tempfile.mkdtemp(prefix="muster-bench-"))
    results: dict[str, dict[str, float]] = {}
    servers: list[Server] = []
    try:
        env1 = muster_env(sa_url, 1)
        subprocess.run([str(BIN / "muster"), "migrate"], env=env1, check=True, capture_output=True)
        if sys.argv[1:] == ["paging"]:  # `python -m bench.run paging`: only those rows
            print(json.dumps(paging(sa_url, dsn, tmp, servers)))
            return
        key = create_key(env1)
        am = {"BENCH_AM_TOKEN": AM_TOKEN}
        api = {"BENCH_API_KEY": key}

        ceiling = Server(
            "ceiling",
            [str(BIN / "uvicorn"), "bench.ceiling:app", "--port", "{port}", "--log-level", "warning", "--no-access-log"],
            os.environ | {"BENCH_DSN": dsn, "PYTHONPATH": str(HERE.parent)},
            "/docs",
            tmp,
        )
        servers.append(ceiling)
        muster = Server("muster-1", [str(BIN / "muster"), "serve"], env1, "/readyz", tmp)
        servers.append(muster)
        rss_idle = rss_mb(muster)
        # Reads first, each right after its seeding: list_growth compares table sizes,
        # not what the write workloads leave behind.
        print(f"seeding {SMALL} incidents …", file=sys.stderr)
        asyncio.run(seed(dsn, 1, SMALL))
        list_path = "/api/v1/incidents?limit=50"
        results["list_small"] = measure(muster, "get.lua", list_path, env=api)

        print(f"seeding up to {LARGE} incidents and a timeline of {TIMELINE} …", file=sys.stderr)
        asyncio.run(seed(dsn, SMALL + 1, LARGE))
        made = httpx.post(
            f"{muster.url}/api/v1/incidents",
            json={"title": "Incident with a long timeline"},
            headers={"Authorization": f"Bearer {key}"},
        ).json()
        asyncio.run(seed_timeline(dsn, made["id"]))
        asyncio.run(drain(dsn))
        results["page_ceiling"] = measure(ceiling, "get.lua", "/page")
        results["list"] = measure(muster, "get.lua", list_path, env=api)
        filters = [
            "/api/v1/incidents?limit=50&status=triggered",
            "/api/v1/incidents?limit=50&severity=sev1&open=true",
            "/api/v1/incidents?limit=50&service=svc-7",
            "/api/v1/incidents?limit=50&q=incident%2042",
        ]
        results["list_filtered"] = measure(muster, "get.lua", *filters, env=api)
        timeline = f"/api/v1/incidents/{made['id']}/timeline?limit=50"
        results["timeline"] = measure(muster, "get.lua", timeline, env=api)
        results["timeline_light"] = measure(muster, "get.lua", timeline, env=api, connections=LIGHT_CONNECTIONS)

        results["parse_ceiling"] = measure(ceiling, "alertmanager.lua", path="/parse", env=am)
        results["ingest"] = measure(muster, "alertmanager.lua", path=AM_PATH, env=am)
        asyncio.run(drain(dsn))
        results["ingest_light"] = measure(
            muster, "alertmanager.lua", path=AM_PATH, env=am, connections=LIGHT_CONNECTIONS
        )
        asyncio.run(drain(dsn))
        results["create"] = measure(muster, "create.lua", path="/api/v1/incidents", env=api)
        asyncio.run(drain(dsn))
        results["create_light"] = measure(
            muster, "create.lua", path="/api/v1/incidents", env=api, connections=LIGHT_CONNECTIONS
        )
        asyncio.run(drain(dsn))
        # Open loop at half of each capacity just measured: latency a user feels at a
        # steady load, every request timed from when it was due.
        results["steady_create"] = steady(muster, "create", results["create"]["rps"], key)
        results["steady_timeline"] = steady(muster, "get", results["timeline"]["rps"], key, timeline)
        results["steady_ingest"] = steady(muster, "ingest", results["ingest"]["rps"], AM_TOKEN)
        asyncio.run(drain(dsn))
        rss_after = rss_mb(muster)
        muster.stop()
        servers.remove(muster)

        muster2 = Server("muster-2", [str(BIN / "muster"), "serve"], muster_env(sa_url, 2), "/readyz", tmp)
        servers.append(muster2)
        results["list_2w"] = measure(muster2, "get.lua", list_path, env=api)
        results["timeline_2w"] = measure(muster2, "get.lua", timeline, env=api)
        results["ingest_2w"] = measure(muster2, "alertmanager.lua", path=AM_PATH, env=am)
        asyncio.run(drain(dsn))
        results["create_2w"] = measure(muster2, "create.lua", path="/api/v1/incidents", env=api)
        asyncio.run(drain(dsn))
        muster2.stop()
        servers.remove(muster2)

        results |= paging(sa_url, dsn, tmp, servers)
    finally:
        for server in servers:
            server.stop()
        asyncio.run(drop_db())

    print(
        f"\nMuster benchmark — {cores} cores, PostgreSQL, wrk -c{CONNECTIONS} unless the row says "
        f"otherwise, {DURATION} × 2 after warm-up"
    )
    print(f"{'workload':<44} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms':>7} {'non2xx':>6}  [runs req/s]")
    labels = {
        "parse_ceiling": "ceiling: parse-only Alertmanager endpoint",
        "page_ceiling": "ceiling: raw asyncpg keyset page of 50",
        "ingest": "Alertmanager ingest, 5 alerts, 80% repeats",
        "create": "POST /incidents with Idempotency-Key",
        "list_small": f"GET /incidents?limit=50 at {SMALL:,}",
        "list": f"GET /incidents?limit=50 at {LARGE:,}",
        "list_filtered": f"GET /incidents filtered at {LARGE:,}",
        "timeline": f"GET timeline ({TIMELINE:,} entries) page of 50",
        "ingest_light": f"Alertmanager ingest, {LIGHT_CONNECTIONS} connections",
        "create_light": f"POST /incidents, {LIGHT_CONNECTIONS} connections",
        "timeline_light": f"GET timeline page, {LIGHT_CONNECTIONS} connections",
        "ingest_2w": "Alertmanager ingest, 2 workers",
        "create_2w": "POST /incidents, 2 workers",
        "list_2w": "GET /incidents?limit=50, 2 workers",
        "timeline_2w": "GET timeline page, 2 workers",
    }
    for name, label in labels.items():
        print(row(label, results[name]))
    print(f"\nopen loop at half of the capacity above, 10 s, latency from each request's due time")
    for name, label in (
        ("steady_create", "POST /incidents"),
        ("steady_timeline", "GET timeline page"),
        ("steady_ingest", "Alertmanager ingest, 80% repeats"),
    ):
        figures = results[name]
        print(
            f"{label:<44} {figures['requests'] / 10:>9.1f} {figures['p50_ms']:>8.1f} "
            f"{figures['p99_ms']:>8.1f}  errors {figures['errors']}, client CPU {figures['client_cpu_share']:.0%}"
        )
    print(f"\ntime to page at {PAGE_RATE} new incidents/s for {PAGE_SECONDS} s (answered 200 → SRE receiver has it)")
    for name, label in (("page", "PostgreSQL, 1 worker"), ("page_sqlite", "SQLite, 1 worker")):
        figures = results[name]
        print(f"{label:<44} p50 {figures['p50']:>7.1f} ms  p99 {figures['p99']:>7.1f} ms  lost {figures['lost']}")
    figures = results["storm"]
    print(
        f"storm: {STORM_GROUPS:,} new groups from {STORM_SENDERS} senders, 2 workers: all answered in "
        f"{figures['answered_s']} s, every page received {figures['drain_s']} s after the first send; "
        f"lost {figures['lost']}, duplicated {figures['duplicated']}"
    )
    print(f"resident memory of the worker: {rss_idle} MB at start, {rss_after} MB after the workloads")
    summary = {
        "ingest_alerts_per_s": round(results["ingest"]["rps"] * 5, 1),
        "ingest_p99_ms": round(results["ingest"]["p99"], 1),
        "ingest_ratio": round(results["ingest"]["rps"] / results["parse_ceiling"]["rps"], 3),
        "create_incident_per_s": round(results["create"]["rps"], 1),
        "create_p99_ms": round(results["create"]["p99"], 1),
        "list_per_s": round(results["list"]["rps"], 1),
        "list_p99_ms": round(results["list"]["p99"], 1),
        "list_ratio": round(results["list"]["rps"] / results["page_ceiling"]["rps"], 3),
        "list_filtered_per_s": round(results["list_filtered"]["rps"], 1),
        "timeline_p99_ms": round(results["timeline"]["p99"], 1),
        "list_growth": round(results["list"]["p50"] / results["list_small"]["p50"], 3),
        # The same ratios by the server's CPU time per request (see `measure`).
        "ingest_cpu_ratio": round(results["parse_ceiling"]["cpu_ms"] / results["ingest"]["cpu_ms"], 3),
        "list_cpu_ratio": round(results["page_ceiling"]["cpu_ms"] / results["list"]["cpu_ms"], 3),
        "ingest_alerts_per_s_2_workers": round(results["ingest_2w"]["rps"] * 5, 1),
        "list_per_s_2_workers": round(results["list_2w"]["rps"], 1),
        # Latency below saturation (LIGHT_CONNECTIONS busy connections, 1 worker).
        f"ingest_p99_ms_{LIGHT_CONNECTIONS}_connections": round(results["ingest_light"]["p99"], 1),
        f"create_p99_ms_{LIGHT_CONNECTIONS}_connections": round(results["create_light"]["p99"], 1),
        f"timeline_p99_ms_{LIGHT_CONNECTIONS}_connections": round(results["timeline_light"]["p99"], 1),
        "page_p50_ms": results["page"]["p50"],
        "page_p99_ms": results["page"]["p99"],
        "page_p99_ms_sqlite": results["page_sqlite"]["p99"],
        "storm_drain_s": results["storm"]["drain_s"],
        "storm_lost": results["storm"]["lost"],
        "storm_duplicated": results["storm"]["duplicated"],
        "steady_p99_ms_create": results["steady_create"]["p99_ms"],
        "steady_p99_ms_timeline": results["steady_timeline"]["p99_ms"],
        "steady_p99_ms_ingest": results["steady_ingest"]["p99_ms"],
        "rss_mb_idle": rss_idle,
        "rss_mb_after": rss_after,
        "errors": int(sum(r["errors"] for r in results.values())),
        "cores": cores,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
