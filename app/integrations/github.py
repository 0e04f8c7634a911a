"""GitHub webhooks: the signature, and the events that record deploys.

`deployment_status`, a completed `workflow_run` of a deploy workflow and a published
`release` become deploys; `ping` is answered; everything else is acknowledged and ignored.
Sender ids are prefixed with their kind (`deployment:…`) because GitHub's id spaces overlap.
"""

import hashlib
import hmac
import re
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from app.core.clock import AwareUTC
from app.core.settings import Settings
from app.deploys.models import DeployKind, DeployStatus
from app.integrations.schemas import ReportedDeploy, WebhookResult, WebhookStatus
from app.integrations.service import (
    Interpretation,
    first_http_url,
    ignored,
    mapped_service,
    validated,
)

SIGNATURE_PREFIX = "sha256="
_COMMIT_SHA = re.compile(r"^[0-9a-f]{7,64}$")

DEPLOYMENT_STATES = {
    "success": DeployStatus.SUCCEEDED,
    "failure": DeployStatus.FAILED,
    "error": DeployStatus.FAILED,
    "in_progress": DeployStatus.STARTED,
    "queued": DeployStatus.STARTED,
    "pending": DeployStatus.STARTED,
}


def signature_valid(secret: str, body: bytes, header: str | None) -> bool:
    """`X-Hub-Signature-256` is `sha256=` + hex HMAC-SHA256 of the raw body."""
    if header is None or not header.startswith(SIGNATURE_PREFIX):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(header[len(SIGNATURE_PREFIX) :].encode(), expected.encode())


class _User(BaseModel):
    login: str


class _Repository(BaseModel):
    name: str
    full_name: str


class _Deployment(BaseModel):
    id: int
    environment: str
    ref: str | None = None
    sha: str | None = None
    created_at: AwareUTC


class _DeploymentStatus(BaseModel):
    state: str
    created_at: AwareUTC
    updated_at: AwareUTC | None = None
    target_url: str | None = None
    log_url: str | None = None
    environment_url: str | None = None


class DeploymentStatusEvent(BaseModel):
    deployment_status: _DeploymentStatus
    deployment: _Deployment
    repository: _Repository
    sender: _User | None = None


class _Workflow(BaseModel):
    name: str | None = None
    path: str | None = None


class _HeadCommit(BaseModel):
    timestamp: AwareUTC | None = None


class _WorkflowRun(BaseModel):
    id: int
    name: str | None = None
    path: str | None = None
    conclusion: str | None = None
    head_branch: str | None = None
    head_sha: str | None = None
    html_url: str | None = None
    created_at: AwareUTC
    run_started_at: AwareUTC | None = None
    updated_at: AwareUTC
    head_commit: _HeadCommit | None = None


class WorkflowRunEvent(BaseModel):
    workflow_run: _WorkflowRun
    workflow: _Workflow | None = None
    repository: _Repository
    sender: _User | None = None


class _Release(BaseModel):
    id: int
    tag_name: str
    target_commitish: str | None = None
    html_url: str | None = None
    created_at: AwareUTC | None = None
    published_at: AwareUTC | None = None
    author: _User | None = None


class ReleaseEvent(BaseModel):
    release: _Release
    repository: _Repository
    sender: _User | None = None


def _deploy(**fields: Any) -> list[ReportedDeploy]:
    return [validated(ReportedDeploy, fields, prefix="deploy")]


def _deployment_status(payload: dict[str, Any], settings: Settings) -> Interpretation:
    event = validated(DeploymentStatusEvent, payload)
    status, deployment = event.deployment_status, event.deployment
    outcome = DEPLOYMENT_STATES.get(status.state)
    if outcome is None:
        return ignored(f"deployment state {status.state!r} records no deploy")
    repository = event.repository
    return _deploy(
        external_id=f"deployment:{deployment.id}",
        service=mapped_service(settings.github_service_map, repository.full_name, repository.name),
        environment=deployment.environment,
        status=outcome,
        version=deployment.ref,
        commit_sha=deployment.sha,
        started_at=deployment.created_at,
        finished_at=None if outcome == DeployStatus.STARTED else status.created_at,
        url=first_http_url(status.target_url, status.log_url, status.environment_url),
        actor=event.sender.login if event.sender else None,
        reported_at=status.updated_at or status.created_at,
    )


def _workflow_run(payload: dict[str, Any], settings: Settings) -> Interpretation:
    if payload.get("action") != "completed":
        return ignored("only completed workflow runs record deploys")
    event = validated(WorkflowRunEvent, payload)
    run, workflow = event.workflow_run, event.workflow or _Workflow()
    names = [text.casefold() for text in (workflow.name, workflow.path, run.name, run.path) if text]
    if not any(wanted in name for name in names for wanted in settings.github_deploy_workflows):
        label = workflow.name or run.name or run.path or "?"
        return ignored(f"workflow {label!r} is not a deploy workflow")
    if run.conclusion == "skipped":
        return ignored("the workflow run was skipped")
    repository = event.repository
    return _deploy(
        external_id=f"workflow_run:{run.id}",
        service=mapped_service(settings.github_service_map, repository.full_name, repository.name),
        environment=settings.github_default_environment,
        status=DeployStatus.SUCCEEDED if run.conclusion == "success" else DeployStatus.FAILED,
        version=run.head_branch,
        commit_sha=run.head_sha,
        started_at=run.run_started_at or run.created_at,
        finished_at=run.updated_at,
        url=first_http_url(run.html_url),
        actor=event.sender.login if event.sender else None,
        committed_at=run.head_commit.timestamp if run.head_commit else None,
        reported_at=run.updated_at,
    )


def _release(payload: dict[str, Any], settings: Settings) -> Interpretation:
    # GitHub sends both `published` and `released` for one release (and only `released`
    # when a pre-release is promoted): both report the same deploy, keyed on the release id.
    if payload.get("action") not in ("published", "released"):
        return ignored("only published releases record deploys")
    event = validated(ReleaseEvent, payload)
    release, repository = event.release, event.repository
    commitish = release.target_commitish or ""
    at = release.published_at or release.created_at
    author = release.author or event.sender
    return _deploy(
        external_id=f"release:{release.id}",
        kind=DeployKind.RELEASE,
        service=mapped_service(settings.github_service_map, repository.full_name, repository.name),
        environment=settings.github_default_environment,
        status=DeployStatus.SUCCEEDED,
        version=release.tag_name,
        commit_sha=commitish if _COMMIT_SHA.match(commitish) else None,
        started_at=at,
        finished_at=at,
        url=first_http_url(release.html_url),
        actor=author.login if author else None,
        reported_at=at,
    )


_HANDLERS: dict[str, Callable[[dict[str, Any], Settings], Interpretation]] = {
    "deployment_status": _deployment_status,
    "workflow_run": _workflow_run,
    "release": _release,
}


def interpret(event: str, payload: dict[str, Any], settings: Settings) -> Interpretation:
    """The deploys a delivery reports, or the answer to give when it reports none."""
    if event == "ping":
        return WebhookResult(status=WebhookStatus.PONG)
    handler = _HANDLERS.get(event)
    if handler is None:
        return ignored(f"GitHub event {event!r} records no deploy")
    return handler(payload, settings)
