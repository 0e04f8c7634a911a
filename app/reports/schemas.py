from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.incidents.state import Severity


class Stat(BaseModel):
    """Nearest-rank median and 90th percentile of the durations measured."""

    count: int = Field(description="Incidents (or deploys) measured")
    median_seconds: float | None
    p90_seconds: float | None


class RecoveryStat(Stat):
    unrecovered: int = Field(description="Failed deploys with no succeeded deploy after them yet")


class Share(BaseModel):
    count: int
    share: float | None = Field(
        description="count ÷ incidents in scope neither declined nor merged; null with none"
    )


class SreEngagement(BaseModel):
    within_5_min: Share = Field(description="SRE engaged at most 5 minutes after the impact began")
    within_15_min: Share


class ServiceFigures(BaseModel):
    service: str
    incidents: int = Field(description="Incidents in scope touching this service")
    deploys: int = Field(description="Deploys of the service in the window (any status)")
    change_failures: int = Field(description="Those deploys that an incident names as its cause")
    change_failure_rate: float | None = Field(description="change_failures ÷ deploys")
    failed_deploy_recovery: RecoveryStat = Field(
        description="From each failed or rolled-back deploy in the window to the next "
        "succeeded deploy of the same service and environment"
    )


class ActionItemFigures(BaseModel):
    total: int
    open: int = Field(description="`open` or `in_progress`")
    overdue: int = Field(description="Open and past their due date (UTC)")


class DeclinedFigures(BaseModel):
    total: int = Field(description="Incidents in scope declined as not being incidents")
    by_reason: dict[str, int] = Field(description="Every decline reason, with its count")


class Window(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    start: datetime = Field(alias="from", description="Inclusive")
    end: datetime = Field(alias="to", description="Exclusive")


_STAT = {"count": 4, "median_seconds": 120.0, "p90_seconds": 600.0}
EXAMPLE: dict[str, Any] = {
    "window": {"from": "2026-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"},
    "service": None,
    "severity": [],
    "environment": "production",
    "incidents": 5,
    "by_severity": {"sev1": 1, "sev2": 2, "sev3": 1, "sev4": 0},
    "by_status": {
        "triggered": 0,
        "acknowledged": 1,
        "investigating": 0,
        "mitigated": 1,
        "resolved": 2,
        "closed": 0,
        "declined": 1,
        "merged": 0,
    },
    "by_service": {"checkout-api": 3, "payments-api": 2},
    "time_to_acknowledge": _STAT,
    "time_to_sre_engagement": {"count": 2, "median_seconds": 240.0, "p90_seconds": 720.0},
    "time_to_mitigate": {"count": 3, "median_seconds": 2700.0, "p90_seconds": 5400.0},
    "time_to_resolve": {"count": 2, "median_seconds": 3600.0, "p90_seconds": 5400.0},
    "lead_time_for_changes": {"count": 12, "median_seconds": 5400.0, "p90_seconds": 86400.0},
    "sre_engaged": {
        "within_5_min": {"count": 1, "share": 0.25},
        "within_15_min": {"count": 2, "share": 0.5},
    },
    "services": [
        {
            "service": "checkout-api",
            "incidents": 3,
            "deploys": 12,
            "change_failures": 2,
            "change_failure_rate": 0.16666666666666666,
            "failed_deploy_recovery": {
                "count": 2,
                "median_seconds": 1800.0,
                "p90_seconds": 4200.0,
                "unrecovered": 0,
            },
        }
    ],
    "action_items": {"total": 3, "open": 2, "overdue": 1},
    "recurrences": 1,
    "declined": {
        "total": 1,
        "by_reason": {"false_positive": 1, "duplicate": 0, "not_an_incident": 0, "test": 0},
    },
    "escalations": {"0": 4, "1": 2, "2": 1},
    "not_engaged_within_policy": 1,
}


class SummaryOut(BaseModel):
    """Incidents that started in the window (and match the filters), and the deploys of
    the window. Durations are measured from `started_at`, over the incidents that were
    neither declined nor merged; those are counted in `incidents` and `by_*` (declined
    ones also in `declined`), and a merged one is timed as the incident it joined."""

    model_config = ConfigDict(json_schema_extra={"example": EXAMPLE})

    window: Window
    service: str | None
    severity: list[Severity]
    environment: str | None
    incidents: int
    by_severity: dict[str, int]
    by_status: dict[str, int]
    by_service: dict[str, int] = Field(description="An incident counts for each of its services")
    time_to_acknowledge: Stat
    time_to_sre_engagement: Stat
    time_to_mitigate: Stat
    time_to_resolve: Stat
    lead_time_for_changes: Stat = Field(
        description="DORA: from commit (`committed_at`) to the deploy's success, over the "
        "succeeded deploys of the window that name their commit time"
    )
    sre_engaged: SreEngagement
    services: list[ServiceFigures]
    action_items: ActionItemFigures = Field(description="Of the incidents in scope")
    recurrences: int = Field(description="Incidents in scope that repeat an earlier one")
    declined: DeclinedFigures = Field(
        description="False alarms and the like: left out of every time-to figure"
    )
    escalations: dict[str, int] = Field(
        description="Escalation levels notified, by level (`0` is the first): how many of the "
        "incidents (not declined) reached each"
    )
    not_engaged_within_policy: int = Field(
        description="Escalated incidents (not declined) where no SRE joined before the "
        "policy's last level was notified: SRE joined after it, or never"
    )


class ServiceCount(BaseModel):
    service: str
    incidents: int


class OpenMeasure(BaseModel):
    """An unfinished action item that names the factor it addresses."""

    action_item_id: str
    title: str
    kind: str
    status: str
    incident_reference: str = Field(examples=["INC-42"])
    due: date | None
    overdue: bool


class CategoryFigures(BaseModel):
    category: str
    label: str | None = Field(description="From the taxonomy; null for a retired category")
    incidents: int = Field(description="Incidents in scope citing it")
    references: list[str] = Field(description="Those incidents, oldest first", examples=[["INC-3"]])
    impact_minutes: float = Field(
        description="Sum over those incidents of started → mitigated (else resolved); "
        "incidents still ongoing add nothing"
    )
    by_quarter: dict[str, int] = Field(
        description="Incidents citing it per UTC quarter of their start", examples=[{"2026-Q1": 2}]
    )
    services: list[ServiceCount] = Field(description="The services most affected (top 5)")
    open_measures: list[OpenMeasure] = Field(
        description="Unfinished action items addressing a factor of this category"
    )


class PersonCount(BaseModel):
    handle: str
    incidents: int = Field(
        description="Incidents where they commanded, engaged as SRE, or "
        "reviewed or executed a rollback"
    )


class PeopleConcentration(BaseModel):
    service: str
    incidents: int = Field(description="The last incidents of the service looked at")
    people: list[PersonCount] = Field(description="Most involved first")
    top_share: float | None = Field(description="The most involved person's incidents ÷ incidents")
    suggestion: str | None = Field(
        description="`key_person_dependency` when one person was in more than half of at "
        "least 3 incidents: a contributing factor to consider"
    )


class TimeToCause(BaseModel):
    overall: Stat
    by_service: dict[str, Stat]


class Signals(BaseModel):
    """Computed from the record, not written by anyone."""

    people_concentration: list[PeopleConcentration]
    time_to_cause: TimeToCause = Field(
        description="From SRE engagement to the cause being named: `caused_by_deploy_id` "
        "set, or a `decision` timeline entry with `data.cause: true`; an observability signal"
    )


class LedgerOut(BaseModel):
    """Contributing factors of the incidents that started in the window, by category,
    with the signals Muster computes from the record."""

    window: Window
    service: str | None
    categories: list[CategoryFigures] = Field(
        description="Every category of the taxonomy (and retired ones still cited), most "
        "cited first, then by impact"
    )
    signals: Signals
