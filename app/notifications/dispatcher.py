"""The dispatcher: drains the outbox into signed webhook deliveries, in every replica.

It runs as an asyncio task in each API process (`MUSTER_DISPATCHER_ENABLED`) or alone
as `muster dispatch`. Unlike request handlers and services, it is a worker with no
request around it, so it owns its transactions: each step below opens its own short
transaction from the sessionmaker and commits it. This module is the only place in
the notifications domain that does so; `queue.py` holds the steps and only flushes.

Fan-out happens here, not in `emit`. `emit` stays one cheap insert in the change's
transaction, so a request never pays for (or fails on) subscription matching; the
dispatcher claims events not yet fanned out (`fanned_out_at IS NULL`, `FOR UPDATE
SKIP LOCKED`), inserts one delivery per matching target with `ON CONFLICT DO
NOTHING` on `(event_id, target_key)`, and marks the events — all in one transaction,
so a crash in between fans the same events out again harmlessly.

Each loop turn:
1. fan out a batch of events;
2. claim due deliveries (at most as many as free sending slots): mark them
   `delivering`, count the attempt and set `next_attempt_at = now + lease`; commit;
3. send each one outside any transaction (httpx, connect/read timeouts from settings,
   an overall deadline of twice that), then record the outcome in a new transaction.

A process that dies mid-send (SIGKILL, OOM, lost node) leaves its rows `delivering`;
once the lease has passed they are due again and another dispatcher — or this one
after a restart — claims them. Nothing is lost; the receiver may see a `webhook-id`
twice, which Standard Webhooks receivers deduplicate. On a clean shutdown the
dispatcher stops claiming, gives in-flight sends a short grace, then cancels the rest
and hands them back as `pending`, due at once.

New work wakes the dispatcher at once: a commit that wrote outbox rows in this process
calls its wake-up, and on PostgreSQL a commit in any replica NOTIFYs the channel this
dispatcher LISTENs on (`Database.listen`). Fan-out and claim of a fresh event then take
one short transaction. Polling (`MUSTER_DISPATCH_POLL_SECONDS`, default 0.5 s) stays
as the fallback for due retries and for what a lost listener missed; a busy dispatcher
does not wait between turns, and a finished send wakes it to refill its slot.
"""

import asyncio
import contextlib
import logging
import time
from datetime import timedelta
from importlib.metadata import version
from urllib.parse import urlsplit

import httpx

from app.core import idempotency
from app.core.db import OUTBOX_CHANNEL, Database
from app.core.settings import Settings
from app.engagement import links
from app.engagement.policy import load_policy
from app.notifications import egress, formats, queue, signing
from app.notifications.models import DeliveryStatus, Format
from app.notifications.queue import Job, Outcome, RetryPolicy, SreTargets

log = logging.getLogger("muster.dispatcher")

FAN_OUT_BATCH = 200
SHUTDOWN_GRACE_SECONDS = 1.0
MAX_IDLE_AFTER_ERRORS = 30.0
WAKE_INTERVAL_SECONDS = 0.02
# Expired idempotency records (which may hold secrets) are purged this often, in batches.
PURGE_EVERY_SECONDS = 60.0
PURGE_BATCH = 500


def _host(url: str) -> str:
    # URLs can carry credentials (Slack's carry a token): log the host only.
    return urlsplit(url).hostname or "?"


class Dispatcher:
    def __init__(self, database: Database, settings: Settings) -> None:
        self._database = database
        self._settings = settings
        self._sre = SreTargets.of(load_policy(settings))
        self._policy = RetryPolicy(
            max_attempts=settings.delivery_max_attempts,
            base_seconds=settings.delivery_backoff_base_seconds,
            cap_seconds=settings.delivery_backoff_cap_seconds,
        )
        self._lease = timedelta(seconds=settings.delivery_lease_seconds)
        self._deadline = 2 * settings.delivery_timeout_seconds
        self._recorder = _Recorder(database, self._policy)
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._inflight: dict[asyncio.Task[None], Job] = {}
        self._task: asyncio.Task[None] | None = None
        self._trusted: httpx.AsyncClient  # for SRE targets, set in `run`
        self._purge_due = 0.0  # monotonic time of the next purge
        self._listener: asyncio.Task[None] | None = None
        self._last_turn = 0.0  # monotonic time the last turn started
        unsigned = [
            target
            for target in self._sre.by_key.values()
            if target.format == Format.STANDARD_WEBHOOKS and target.secret is None
        ]
        if unsigned:
            log.warning("%d SRE targets have no secret: they are sent unsigned", len(unsigned))
        if self._sre.by_key and links.link_secret(settings) is None:
            log.warning("MUSTER_LINK_SECRET is not set: SRE notifications carry no join link")

    def start(self) -> None:
        self._database.outbox_listeners.append(self._wake.set)
        self._listener = asyncio.create_task(
            self._database.listen(OUTBOX_CHANNEL, self._wake.set), name="muster-listener"
        )
        self._task = asyncio.create_task(self.run(), name="muster-dispatcher")

    async def stop(self) -> None:
        """Stop claiming, let in-flight sends finish briefly, release the rest."""
        self._stopping.set()
        self._wake.set()
        with contextlib.suppress(ValueError):
            self._database.outbox_listeners.remove(self._wake.set)
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if self._task is None:
            return
        done, _ = await asyncio.wait({self._task}, timeout=SHUTDOWN_GRACE_SECONDS + 5)
        if not done:  # stuck in a database call: cancel; `run` still releases its rows
            self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def run(self) -> None:
        timeout = httpx.Timeout(self._settings.delivery_timeout_seconds)
        headers = {"user-agent": f"Muster/{version('muster')} (webhooks)"}
        checked = egress.CheckedTransport(self._settings.notify_allowed_networks)
        async with (
            httpx.AsyncClient(
                timeout=timeout, follow_redirects=False, headers=headers, transport=checked
            ) as client,
            # SRE targets are the operator's own settings: trusted, not checked.
            httpx.AsyncClient(
                timeout=timeout, follow_redirects=False, headers=headers
            ) as self._trusted,
        ):
            try:
                await self._loop(client)
            finally:
                await self._drain()

    async def _loop(self, client: httpx.AsyncClient) -> None:
        failures = 0
        while not self._stopping.is_set():
            self._last_turn = time.monotonic()
            try:
                busy = await self._turn(client)
                failures = 0
            except Exception as exc:
                failures += 1
                if failures == 1 or failures % 100 == 0:
                    log.warning("dispatcher turn failed (%d in a row): %r", failures, exc)
                busy = False
            if busy:
                await asyncio.sleep(0)
                continue
            poll = self._settings.dispatch_poll_seconds
            await self._idle(min(poll * 2 ** min(failures, 10), max(poll, MAX_IDLE_AFTER_ERRORS)))

    async def _idle(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        # Commits that wake the dispatcher gather for one turn, at most one every
        # WAKE_INTERVAL_SECONDS: a busy API does not pay a dispatcher turn per commit.
        rest = self._last_turn + WAKE_INTERVAL_SECONDS - time.monotonic()
        if rest > 0 and not self._stopping.is_set():
            await asyncio.sleep(rest)
        self._wake.clear()

    async def _turn(self, client: httpx.AsyncClient) -> bool:
        """One fan-out and one claim, in one transaction; True when there is probably more
        to do at once."""
        if time.monotonic() >= self._purge_due:
            await self._purge()
        free = self._settings.dispatch_concurrency - len(self._inflight)
        async with self._database.sessionmaker() as session, session.begin():
            fanned = await queue.fan_out(session, sre=self._sre, limit=FAN_OUT_BATCH)
            jobs = []
            if free > 0:
                jobs = await queue.claim(
                    session,
                    lease=self._lease,
                    limit=free,
                    sre=self._sre,
                    max_attempts=self._policy.max_attempts,
                )
        if free <= 0:
            return fanned == FAN_OUT_BATCH
        for job in jobs:
            task = asyncio.create_task(self._deliver(client, job))
            self._inflight[task] = job
            task.add_done_callback(self._finished)
        return fanned == FAN_OUT_BATCH or len(jobs) == free

    async def _purge(self) -> None:
        # Due again later even if this fails: a failing purge must not stop deliveries.
        self._purge_due = time.monotonic() + PURGE_EVERY_SECONDS
        ttl = timedelta(hours=self._settings.idempotency_ttl_hours)
        async with self._database.sessionmaker() as session, session.begin():
            purged = await idempotency.purge_expired(session, ttl=ttl, limit=PURGE_BATCH)
        if purged == PURGE_BATCH:  # more may be waiting: look again next turn
            self._purge_due = 0.0

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._inflight.pop(task, None)
        # Under a backlog, refill the slots in batches rather than one claim per send.
        if len(self._inflight) <= self._settings.dispatch_concurrency // 2:
            self._wake.set()

    async def _deliver(self, client: httpx.AsyncClient, job: Job) -> None:
        try:
            outcome = await self._send(client, job)
        except asyncio.CancelledError:
            await self._release([job])
            raise
        try:
            status = await self._recorder.record(job, outcome)
        except Exception as exc:  # the lease runs out and the delivery is retried
            log.warning("could not record delivery %s: %r", job.delivery_id, exc)
            return
        if status is None:
            log.info("delivery %s was reclaimed or deleted meanwhile", job.delivery_id)
            return
        log.log(
            logging.INFO if outcome.delivered else logging.WARNING,
            "delivery %s to %s: %s",
            job.delivery_id,
            _host(job.url),
            status,
            extra={
                "delivery_id": str(job.delivery_id),
                "event_type": job.event_type,
                "attempt": job.attempt,
                "status_code": outcome.status_code,
                "duration_ms": outcome.duration_ms,
            },
        )

    async def _send(self, client: httpx.AsyncClient, job: Job) -> Outcome:
        started = time.perf_counter()

        def outcome(status_code: int | None, error: str | None, *, final: bool = False) -> Outcome:
            elapsed = round((time.perf_counter() - started) * 1000)
            return Outcome(status_code=status_code, error=error, duration_ms=elapsed, final=final)

        if job.refused:
            return outcome(None, job.refused, final=True)
        join = None
        if job.to_sre and job.incident_id is not None:
            join = links.join_url(self._settings, job.incident_id)
        context = formats.Context(
            public_url=self._settings.public_url,
            join_url=join,
            routing_key=job.routing_key,
            on_it=job.on_it,
        )
        body = formats.render(job.body_format, job.event_type, job.occurred_at, job.data, context)
        headers = {"content-type": "application/json"} | signing.headers(
            job.key, str(job.delivery_id), int(time.time()), body
        )
        if job.to_sre:
            client = self._trusted

        try:
            async with (
                asyncio.timeout(self._deadline),
                client.stream("POST", job.url, content=body, headers=headers) as response,
            ):
                code = response.status_code  # the body is never read
        except Exception as exc:  # e.g. an URL httpx refuses: a failed attempt all the same
            log.info("delivery %s to %s failed: %r", job.delivery_id, _host(job.url), exc)
            return outcome(None, egress.failure_category(exc))
        if 200 <= code < 300:
            return outcome(code, None)
        # PagerDuty refuses an invalid event with 400: sending it again cannot help.
        return outcome(
            code, f"HTTP {code}", final=job.body_format == Format.PAGERDUTY and code == 400
        )

    async def _release(self, jobs: list[Job]) -> None:
        try:
            async with self._database.sessionmaker() as session, session.begin():
                released = await queue.release(session, jobs)
            log.info("released %d unfinished deliveries", released)
        except Exception as exc:  # their leases run out instead
            log.warning("could not release %d deliveries: %r", len(jobs), exc)

    async def _drain(self) -> None:
        if not self._inflight:
            return
        tasks = set(self._inflight)
        _, pending = await asyncio.wait(tasks, timeout=SHUTDOWN_GRACE_SECONDS)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


_Waiting = tuple[Job, Outcome, "asyncio.Future[DeliveryStatus | None]"]


class _Recorder:
    """Records the outcomes of concurrent sends together (group commit).

    The first send to finish records its outcome at once; outcomes that finish while a
    recording transaction runs wait for it and are then recorded in one transaction, so
    under a backlog a batch costs one BEGIN and one COMMIT instead of one each, and its
    delivered outcomes one statement on PostgreSQL (`queue.record_delivered`). If that
    transaction fails, every outcome in it fails: their leases run out and they are
    sent again, as a single failed recording would be.
    """

    def __init__(self, database: Database, policy: RetryPolicy) -> None:
        self._database = database
        self._policy = policy
        self._waiting: list[_Waiting] = []
        self._lock = asyncio.Lock()

    async def record(self, job: Job, outcome: Outcome) -> DeliveryStatus | None:
        """The delivery's status once `outcome` is recorded; None when its claim was lost."""
        recorded: asyncio.Future[DeliveryStatus | None] = asyncio.get_running_loop().create_future()
        self._waiting.append((job, outcome, recorded))
        async with self._lock:
            if self._waiting:
                batch, self._waiting = self._waiting, []
                await self._record(batch)
        return await recorded

    async def _record(self, batch: list[_Waiting]) -> None:
        delivered = [(job, outcome) for job, outcome, _ in batch if outcome.delivered]
        try:
            async with self._database.sessionmaker() as session, session.begin():
                done = await queue.record_delivered(session, delivered)
                statuses = {
                    job.delivery_id: DeliveryStatus.DELIVERED if job.delivery_id in done else None
                    for job, _ in delivered
                }
                for job, outcome, _ in batch:
                    if not outcome.delivered:
                        failed = await queue.record(session, job, outcome, policy=self._policy)
                        statuses[job.delivery_id] = failed.status if failed else None
        except Exception as exc:
            for _, _, recorded in batch:
                recorded.set_exception(exc)
            return
        except BaseException:  # cancelled: no waiter may be left hanging
            for _, _, recorded in batch:
                recorded.cancel()
            raise
        for job, _, recorded in batch:
            recorded.set_result(statuses[job.delivery_id])
