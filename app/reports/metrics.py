"""Prometheus figures about incidents.

The open-incident gauge is computed at scrape time from the database, so every replica
reports the same numbers. The SRE-engagement histogram is per process: it counts the
incidents whose first SRE joined through this process since it started.
"""

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from app.incidents.state import OPEN, Severity, Status

REGISTRY = CollectorRegistry()
SRE_ENGAGEMENT = Histogram(
    "muster_time_to_sre_engagement_seconds",
    "From an incident's impact start to its first participant in the sre role "
    "(observed in the process that recorded that participant)",
    buckets=(60, 120, 300, 600, 900, 1800, 3600, 7200, 14_400, 43_200, 86_400),
    registry=REGISTRY,
)


class _OpenIncidents(Collector):
    def __init__(self, counts: dict[tuple[str, str], int]) -> None:
        self.counts = counts

    def collect(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily(
            "muster_open_incidents",
            "Incidents not yet resolved or closed, by severity and status",
            labels=["severity", "status"],
        )
        for severity in Severity:
            for status in (s for s in Status if s in OPEN):
                gauge.add_metric([severity, status], self.counts.get((severity, status), 0))
        yield gauge


def exposition(open_incidents: dict[tuple[str, str], int] | None) -> bytes:
    """This module's metrics in the text format; the gauge only when the counts are known."""
    text = generate_latest(REGISTRY)
    if open_incidents is not None:
        registry = CollectorRegistry()
        registry.register(_OpenIncidents(open_incidents))
        text = generate_latest(registry) + text
    return text
