"""The incident status machine.

triggered → acknowledged → investigating → mitigated → resolved → closed.
Forward moves may skip steps; `mitigated` and `resolved` may reopen to
`investigating`. `triggered`, `acknowledged` and `investigating` may also be
`declined` (a false alarm, with a reason). `closed` and `declined` are final.
"""

from enum import StrEnum


class Status(StrEnum):
    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    INVESTIGATING = "investigating"
    MITIGATED = "mitigated"
    RESOLVED = "resolved"
    CLOSED = "closed"
    DECLINED = "declined"


class Severity(StrEnum):
    SEV1 = "sev1"
    SEV2 = "sev2"
    SEV3 = "sev3"
    SEV4 = "sev4"


class DeclineReason(StrEnum):
    """Why an incident was declined: it was not one."""

    FALSE_POSITIVE = "false_positive"
    DUPLICATE = "duplicate"
    NOT_AN_INCIDENT = "not_an_incident"
    TEST = "test"


ORDER: list[Status] = [s for s in Status if s != Status.DECLINED]  # the forward path
OPEN = frozenset({Status.TRIGGERED, Status.ACKNOWLEDGED, Status.INVESTIGATING, Status.MITIGATED})
REOPENABLE = frozenset({Status.MITIGATED, Status.RESOLVED})
DECLINABLE = frozenset({Status.TRIGGERED, Status.ACKNOWLEDGED, Status.INVESTIGATING})

# The timestamp column each status stamps the first time it is reached.
STAMPS = {
    Status.ACKNOWLEDGED: "acknowledged_at",
    Status.INVESTIGATING: "investigating_at",
    Status.MITIGATED: "mitigated_at",
    Status.RESOLVED: "resolved_at",
    Status.CLOSED: "closed_at",
    Status.DECLINED: "declined_at",
}


def allowed_moves(current: Status) -> list[Status]:
    if current == Status.DECLINED:
        return []
    later = ORDER[ORDER.index(current) + 1 :]
    if current in REOPENABLE:
        return [Status.INVESTIGATING, *later]
    if current in DECLINABLE:
        return [*later, Status.DECLINED]
    return later


def can_move(current: Status, target: Status) -> bool:
    return target in allowed_moves(current)
