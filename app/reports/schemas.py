from datetime import datetime

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
    share: float | None = Field(description="count ÷ incidents in scope; null with no incidents")


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


class Window(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    start: datetime = Field(alias="from", description="Inclusive")
    end: datetime = Field(alias="to", description="Exclusive")


class SummaryOut(BaseModel):
    """Incidents that started in the window (and match the filters), and the deploys of
    the window. Durations are measured from `started_at`."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "window": {"from": "2026-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"},
                "service": "checkout",
                "severity": [],
                "environment": None,
                "incidents": 4,
                "by_severity": {"sev1": 1, "sev2": 1, "sev3": 2, "sev4": 0},
                "by_status": {"triggered": 0, "resolved": 1, "closed": 3},
                "by_service": {"checkout": 4, "payments": 1},
                "time_to_acknowledge": {"count": 4, "median_seconds": 120, "p90_seconds": 300},
                "recurrences": 1,
            }
        }
    )

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
    sre_engaged: SreEngagement
    services: list[ServiceFigures]
    action_items: ActionItemFigures = Field(description="Of the incidents in scope")
    recurrences: int = Field(description="Incidents in scope that repeat an earlier one")
