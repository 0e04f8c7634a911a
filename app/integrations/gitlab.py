"""GitLab webhooks: deployment and pipeline hooks, and GitLab's own timestamp format.

A Deployment hook reports one deployment (keyed on `deployment_id`); a Pipeline hook
reports one deploy per environment its jobs deploy to (keyed on pipeline id and
environment). Enable one of the two hooks for deploys, not both, or each deploy is
recorded twice.
"""

import hashlib
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, BeforeValidator, Field

from app.core.settings import Settings
from app.deploys.models import DeployStatus
from app.deploys.schemas import DeployCreate
from app.integrations.service import (
    Interpretation,
    first_http_url,
    ignored,
    mapped_service,
    validated,
)

_FULL_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")

DEPLOYMENT_STATUSES = {
    "running": DeployStatus.STARTED,
    "success": DeployStatus.SUCCEEDED,
    "failed": DeployStatus.FAILED,
    "canceled": DeployStatus.FAILED,
}
# Jobs in other states (created, manual, scheduled, skipped) have not deployed anything.
JOB_STATUSES = DEPLOYMENT_STATUSES | {
    "pending": DeployStatus.STARTED,
    "preparing": DeployStatus.STARTED,
    "waiting_for_resource": DeployStatus.STARTED,
}


def parse_time(value: str) -> datetime:
    """GitLab's `2021-04-28 21:50:00 +0200` or `2016-08-12 15:23:28 UTC`, or RFC 3339."""
    text = value.strip()
    if text.endswith(" UTC"):
        text = text.removesuffix(" UTC") + " +0000"
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S %z")
    except ValueError:
        parsed = datetime.fromisoformat(text)  # ValueError when it is no timestamp at all
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp without a UTC offset: {value!r}")
    return parsed


def _gitlab_time(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("expected a timestamp such as `2021-04-28 21:50:00 +0200`")
    return parse_time(value)


GitLabTime = Annotated[AwareDatetime, BeforeValidator(_gitlab_time)]


def delivery_id(idempotency_key: str | None, body: bytes) -> str:
    """What identifies a delivery across retries.

    Newer GitLab sends `Idempotency-Key`, which stays the same across retries.
    `X-Gitlab-Event-UUID` is not used: it is shared by every hook that a webhook-triggered
    action causes (GitLab's recursion detection), so distinct deploys could carry the
    same one. Older GitLab retries resend the same body, so its digest stands in.
    """
    if idempotency_key:
        return f"key:{idempotency_key}"
    return f"sha256:{hashlib.sha256(body).hexdigest()}"


class _Project(BaseModel):
    name: str
    path_with_namespace: str
    web_url: str | None = None


class _User(BaseModel):
    username: str | None = None


class DeploymentHook(BaseModel):
    status: str
    status_changed_at: GitLabTime
    deployment_id: int
    environment: str
    project: _Project
    ref: str | None = None
    short_sha: str | None = None
    commit_url: str | None = None
    deployable_url: str | None = None
    environment_external_url: str | None = None
    user: _User | None = None


class _JobEnvironment(BaseModel):
    name: str
    action: str | None = None


class _Job(BaseModel):
    id: int
    name: str | None = None
    status: str
    started_at: GitLabTime | None = None
    finished_at: GitLabTime | None = None
    environment: _JobEnvironment | None = None


class _Pipeline(BaseModel):
    id: int
    ref: str | None = None
    sha: str | None = None
    url: str | None = None


class _Commit(BaseModel):
    timestamp: GitLabTime | None = None


class PipelineHook(BaseModel):
    object_attributes: _Pipeline
    project: _Project
    user: _User | None = None
    commit: _Commit | None = None
    builds: list[_Job] = Field(default_factory=list)


def _service(settings: Settings, project: _Project) -> str:
    path = project.path_with_namespace.rsplit("/", 1)[-1]
    return mapped_service(settings.gitlab_service_map, project.path_with_namespace, path)


def _deployment(payload: dict[str, Any], settings: Settings) -> Interpretation:
    hook = validated(DeploymentHook, payload)
    outcome = DEPLOYMENT_STATUSES.get(hook.status)
    if outcome is None:
        return ignored(f"deployment status {hook.status!r} records no deploy")
    commit = (hook.commit_url or "").rstrip("/").rsplit("/", 1)[-1]
    running = outcome == DeployStatus.STARTED
    fields = {
        "external_id": f"deployment:{hook.deployment_id}",
        "service": _service(settings, hook.project),
        "environment": hook.environment,
        "status": outcome,
        "version": hook.ref or hook.short_sha,
        "commit_sha": commit if _FULL_SHA.match(commit) else hook.short_sha,
        "started_at": hook.status_changed_at if running else None,
        "finished_at": None if running else hook.status_changed_at,
        "url": first_http_url(hook.deployable_url, hook.environment_external_url),
        "actor": hook.user.username if hook.user else None,
    }
    return [validated(DeployCreate, fields, prefix="deploy")]


def _combined(statuses: Iterable[DeployStatus]) -> DeployStatus:
    """One environment's outcome: every deploying job must have succeeded."""
    seen = set(statuses)
    if DeployStatus.FAILED in seen:
        return DeployStatus.FAILED
    return DeployStatus.STARTED if DeployStatus.STARTED in seen else DeployStatus.SUCCEEDED


def _pipeline(payload: dict[str, Any], settings: Settings) -> Interpretation:
    hook = validated(PipelineHook, payload)
    pipeline = hook.object_attributes
    # The newest job of each name per environment: a retried job replaces its earlier run.
    latest: dict[str, dict[str | None, _Job]] = {}
    for job in sorted(hook.builds, key=lambda job: job.id):
        env = job.environment
        if env is not None and env.action in (None, "start") and job.status in JOB_STATUSES:
            latest.setdefault(env.name, {})[job.name] = job
    if not latest:
        return ignored("no job of this pipeline has deployed to an environment")
    pipeline_url = (
        f"{hook.project.web_url}/-/pipelines/{pipeline.id}" if hook.project.web_url else None
    )
    deploys = []
    for environment, jobs in latest.items():
        status = _combined(JOB_STATUSES[job.status] for job in jobs.values())
        starts = [job.started_at for job in jobs.values() if job.started_at]
        ends = [job.finished_at for job in jobs.values() if job.finished_at]
        fields = {
            "external_id": f"pipeline:{pipeline.id}:{environment}",
            "service": _service(settings, hook.project),
            "environment": environment,
            "status": status,
            "version": pipeline.ref,
            "commit_sha": pipeline.sha,
            "started_at": min(starts, default=None),
            "finished_at": None if status == DeployStatus.STARTED else max(ends, default=None),
            "url": first_http_url(pipeline.url, pipeline_url),
            "actor": hook.user.username if hook.user else None,
            "committed_at": hook.commit.timestamp if hook.commit else None,
        }
        deploys.append(validated(DeployCreate, fields, prefix="deploy"))
    return deploys


def interpret(payload: dict[str, Any], settings: Settings) -> Interpretation:
    """The deploys a hook reports, or the answer to give when it reports none."""
    kind = payload.get("object_kind")
    if kind == "deployment":
        return _deployment(payload, settings)
    if kind == "pipeline":
        return _pipeline(payload, settings)
    return ignored(f"GitLab object_kind {kind!r} records no deploy")
