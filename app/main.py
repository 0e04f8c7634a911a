"""The application factory: routers, middleware, error handlers and the lifespan."""

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from app.action_items.router import incident_router as incident_action_items_router
from app.action_items.router import router as action_items_router
from app.alerts.router import router as alerts_router
from app.audit import service as audit_service
from app.audit.router import router as audit_router
from app.auth.router import router as auth_router
from app.auth.service import KeyCache, authenticate
from app.catalog.router import links_router as incident_links_router
from app.catalog.router import router as services_router
from app.checklists.router import router as checklists_router
from app.checklists.template import load_template
from app.contributing_factors.router import categories_router as factor_categories_router
from app.contributing_factors.router import router as contributing_factors_router
from app.contributing_factors.taxonomy import load_taxonomy
from app.core import migrations
from app.core.api import operation_id
from app.core.audit import AuditMiddleware, AuditTrail
from app.core.db import Database
from app.core.docs import mount_docs
from app.core.draining import delay_sigterm
from app.core.errors import install_error_handlers
from app.core.idempotency import IdempotentReplay
from app.core.middleware import BodyLimitMiddleware, Metrics, ObservabilityMiddleware
from app.core.oidc import TokenVerifier
from app.core.openapi import COMMON_ERRORS, OUTBOUND_TAG, install_openapi
from app.core.security import Answered, Authenticator, TokenAuthenticator
from app.core.settings import Settings, get_settings
from app.core.timers import TimerLoop
from app.deploys.router import router as deploys_router
from app.deploys.router import suspects_router
from app.engagement.policy import load_policy
from app.flows.timers import HANDLERS as TIMER_HANDLERS
from app.incidents.router import router as incidents_router
from app.integrations.alertmanager import router as alertmanager_router
from app.integrations.alertmanager import seen_notifications
from app.integrations.router import router as webhooks_router
from app.notifications.dispatcher import Dispatcher
from app.notifications.router import deliveries_router, events_router
from app.notifications.router import router as subscriptions_router
from app.notifications.webhooks import document_webhooks, webhooks
from app.ops.router import router as ops_router
from app.pages import join as join_page
from app.pages import router as pages
from app.participants.router import router as participants_router
from app.postmortems.router import router as postmortems_router
from app.reports.router import router as reports_router
from app.retrospectives.router import router as retrospectives_router
from app.rollbacks.router import router as rollbacks_router
from app.status_updates.router import router as updates_router
from app.timeline.router import router as timeline_router

log = logging.getLogger("muster")

DESCRIPTION = """\
Muster is where an incident lives: alerts and deploys come in, people join with
roles, everything done lands on one timeline, rollbacks are reviewed by a second
person, and the postmortem is drafted from the record.

Authenticate with an API key, `Authorization: Bearer mst_…`, or where SSO is set up
with an access token (a JWT) from your identity provider (use **Authorize**).
Creates take an `Idempotency-Key`: the same key and body return the first response.
This page sends one with each create, the same one when the same request is sent again
within seconds, so a double click on **Execute** creates one incident, not two.
Errors are RFC 9457 problem documents (`application/problem+json`). Collections
are pages `{"items": [...], "next_cursor": ...}`; pass `next_cursor` back as `cursor`.
"""


# Swagger UI's sections, in this order; independent of the routing order below.
_SECTIONS = {
    "incidents": "Open, find, update and move incidents through their states",
    "participants": "Who joined an incident, in which role",
    "timeline": "Everything done and seen, in order",
    "updates": "Updates for people outside the response, on a cadence per severity",
    "checklist": "The incident's response checklist",
    "rollback-reviews": "Rollbacks proposed and approved by a second person",
    "alerts": "Alertmanager alerts attached to an incident",
    "action-items": "Prevention measures, tracked across services",
    "postmortems": "The postmortem drafted from the record, the retrospective people write, "
    "recurrences",
    "contributing-factors": "What made an incident possible or worse, by category",
    "reports": "How fast the team acknowledges, engages, mitigates, resolves",
    "webhooks": "What Alertmanager, GitHub and GitLab send to Muster (set up in those tools)",
    "deploys": "Release history from CI, and the deploys suspected of an incident",
    "services": "The service catalog: owners, runbooks, dependencies, the service page",
    "subscriptions": "Signed outbound webhooks",
    "deliveries": "Each outbound webhook delivery and its attempts",
    "events": "A live stream of the events Muster emits",
    "api-keys": "API keys and their scopes",
    "audit": "Who wrote what, when, with which credential: the append-only audit trail",
    "operations": "Health, readiness and metrics",
    OUTBOUND_TAG: "Webhooks: what Muster sends to your subscription URLs (not endpoints to call)",
}
TAGS = [{"name": name, "description": about} for name, about in _SECTIONS.items()]


# Requests free almost everything by reference counting; CPython's default threshold
# (700) made full collections frequent under load. Cyclic garbage is still collected,
# after 50 000 objects. Measurements: docs/performance.md.
GC_THRESHOLDS = (50_000, 20, 10)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        gc.set_threshold(*GC_THRESHOLDS)
        for name in settings.short_secrets():
            log.warning("%s is shorter than 16 characters: prefer a long random secret", name)
        database = Database.from_settings(settings)
        if settings.auto_migrate:
            await migrations.upgrade(database.engine)
        app.state.database = database
        dispatcher: Dispatcher | None = None
        timers = TimerLoop(database, TIMER_HANDLERS, poll_seconds=settings.timer_poll_seconds)
        undo_drain = delay_sigterm(
            lambda: setattr(app.state, "accepting", False), settings.shutdown_delay_seconds
        )
        try:
            if settings.dispatcher_enabled:
                dispatcher = Dispatcher(database, settings)
                dispatcher.start()
                timers.start()
            app.state.dispatcher = dispatcher
            app.state.timers = timers
            app.state.accepting = True
            yield
        finally:
            undo_drain()
            app.state.accepting = False
            await timers.stop()
            if dispatcher is not None:
                await dispatcher.stop()
            await database.dispose()

    app = FastAPI(
        title="Muster",
        version=version("muster"),
        summary="Incident coordination for SRE teams",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        generate_unique_id_function=operation_id,
        webhooks=webhooks(),
        openapi_tags=TAGS,
    )
    app.state.settings = settings
    app.state.api_keys = KeyCache(settings.api_key_cache_seconds)
    authenticator: Authenticator = authenticate  # the auth domain's, as core.security needs it
    app.state.authenticate = authenticator
    verify_token: TokenAuthenticator | None = TokenVerifier.from_settings(settings)
    app.state.verify_token = verify_token
    trail = AuditTrail(audit_service.record, refusals_per_minute=settings.audit_refusals_per_minute)
    answered: Answered = trail.answered
    app.state.answered = answered
    app.state.seen_notifications = seen_notifications()
    app.state.checklist_template = load_template(settings.checklist_template)
    app.state.factor_taxonomy = load_taxonomy(settings.contributing_factors)
    app.state.escalation_policy = load_policy(settings)
    app.state.metrics = Metrics()
    install_error_handlers(app)

    async def replay(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, IdempotentReplay)
        return exc.response()

    app.add_exception_handler(IdempotentReplay, replay)
    app.add_middleware(AuditMiddleware, trail=trail)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(ObservabilityMiddleware, metrics=app.state.metrics)

    # Routes are matched in order, one by one: the storm's endpoint goes first.
    api_routers = (
        alertmanager_router,
        incidents_router,
        pages.router,
        participants_router,
        timeline_router,
        checklists_router,
        rollbacks_router,
        updates_router,
        alerts_router,
        incident_action_items_router,
        action_items_router,
        postmortems_router,
        retrospectives_router,
        contributing_factors_router,
        factor_categories_router,
        reports_router,
        deploys_router,
        suspects_router,
        services_router,
        incident_links_router,
        webhooks_router,
        subscriptions_router,
        deliveries_router,
        events_router,
        auth_router,
        audit_router,
    )
    for router in api_routers:
        app.include_router(router, responses=COMMON_ERRORS)
    app.include_router(ops_router)
    app.include_router(pages.assets)
    app.include_router(join_page.router, responses=COMMON_ERRORS)
    document_webhooks(app)  # inner: webhook payloads as serialised
    install_openapi(  # outer: adds the problem schemas and caches the document
        app, checklist_keys=[item.key for item in app.state.checklist_template.items]
    )
    # No persistAuthorization: it would keep API keys in the browser's localStorage.
    mount_docs(app, {"displayRequestDuration": True})
    return app
