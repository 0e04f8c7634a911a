"""The incident status machine.

triggered → acknowledged → investigating → mitigated → resolved → closed.
Forward moves may skip steps; `mitigated` and `resolved` may reopen to
`investigating`; `closed` is final.
"""

from enum import StrEnum


class Status(StrEnum):
    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    INVESTIGATING = "investigating"
    MITIGATED = "mitigated"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Severity(StrEnum):
    SEV1 = "sev1"
    SEV2 = "sev2"
    SEV3 = "sev3"
    SEV4 = "sev4"


ORDER = list(Status)
OPEN = frozenset({Status.TRIGGERED, Status.ACKNOWLEDGED, Status.INVESTIGATING, Status.MITIGATED})
REOPENABLE = frozenset({Status.MITIGATED, Status.RESOLVED})

# The timestamp column each status stamps the first time it is reached.
STAMPS = {
    Status.ACKNOWLEDGED: "acknowledged_at",
    Status.INVESTIGATING: "investigating_at",
    Status.MITIGATED: "mitigated_at",
    Status.RESOLVED: "resolved_at",
    Status.CLOSED: "closed_at",
}


def allowed_moves(current: Status) -> list[Status]:
    later = ORDER[ORDER.index(current) + 1 :]
    if current in REOPENABLE:
        return [Status.INVESTIGATING, *later]
    return later


def can_move(current: Status, target: Status) -> bool:
    return target in allowed_moves(current)
