"""The incident status machine.

triggered → acknowledged → investigating → mitigated → resolved → closed.
Forward moves may skip steps; `mitigated` and `resolved` may reopen to
`investigating`. `triggered`, `acknowledged` and `investigating` may also be
`declined` (a false alarm, with a reason). Any status but a final one may be
`merged` into another incident, by `POST /incidents/{id}/merge` only (not by a
PATCH). `closed`, `declined` and `merged` are final.
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
    MERGED = "merged"


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


ORDER: list[Status] = [
    s for s in Status if s not in {Status.DECLINED, Status.MERGED}
]  # the forward path
OPEN = frozenset({Status.TRIGGERED, Status.ACKNOWLEDGED, Status.INVESTIGATING, Status.MITIGATED})
REOPENABLE = frozenset({Status.MITIGATED, Status.RESOLVED})
DECLINABLE = frozenset({Status.TRIGGERED, Status.ACKNOWLEDGED, Status.INVESTIGATING})
FINAL = frozenset({Status.CLOSED, Status.DECLINED, Status.MERGED})
# Not incidents of their own: a false alarm, or one folded into another. Reports never
# time them and recurrence never matches them.
NOT_MEASURED = frozenset({Status.DECLINED, Status.MERGED})

# The timestamp column each status stamps the first time a move reaches it (a merge
# stamps `merged_at` itself).
STAMPS = {
    Status.ACKNOWLEDGED: "acknowledged_at",
    Status.INVESTIGATING: "investigating_at",
    Status.MITIGATED: "mitigated_at",
    Status.RESOLVED: "resolved_at",
    Status.CLOSED: "closed_at",
    Status.DECLINED: "declined_at",
}


def allowed_moves(current: Status) -> list[Status]:
    if current in FINAL:
        return []
    later = ORDER[ORDER.index(current) + 1 :]
    if current in REOPENABLE:
        return [Status.INVESTIGATING, *later]
    if current in DECLINABLE:
        return [*later, Status.DECLINED]
    return later


def can_move(current: Status, target: Status) -> bool:
    return target in allowed_moves(current)
