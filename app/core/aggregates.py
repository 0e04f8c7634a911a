"""Aggregates whose SQL differs between PostgreSQL and SQLite, as named helpers."""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Float, Select, cast, extract, func
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.sql import Backend, backend_of


@dataclass(frozen=True)
class Durations:
    """Seconds from a start to an end, over the rows that have an end."""

    count: int
    percentiles: dict[int, float | None]  # nearest-rank, by percent
    within: dict[float, int]  # how many took at most this many seconds


def nearest_rank(values: Sequence[float], percent: float) -> float | None:
    """The nearest-rank percentile of `values` (None when there are none)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return ordered[rank - 1]


async def durations(
    session: AsyncSession,
    pairs: Select[Any, Any],
    *,
    percents: Sequence[int] = (50, 90),
    within: Sequence[float] = (),
) -> Durations:
    """Count, nearest-rank percentiles and counts under thresholds of `end - start`,
    for `pairs`, a statement selecting (start, end) timestamps; rows without an end
    are left out.
    """
    if backend_of(session) == Backend.POSTGRESQL:
        return await _durations_in_sql(session, pairs, percents, within)
    return await _durations_read(session, pairs, percents, within)


async def _durations_in_sql(
    session: AsyncSession, pairs: Select[Any], percents: Sequence[int], within: Sequence[float]
) -> Durations:
    # PostgreSQL: one row back. `percentile_disc` is nearest-rank, and the epoch of a
    # timestamptz difference is exact (numeric) to the microsecond.
    rows = pairs.subquery()
    start, end = list(rows.c)[:2]
    seconds = cast(extract("epoch", end - start), Float)
    columns: list[ColumnElement[Any]] = [func.count(seconds)]
    columns += [func.percentile_disc(p / 100).within_group(seconds) for p in percents]
    columns += [func.count(seconds).filter(seconds <= limit) for limit in within]
    found: Sequence[Any] = (await session.execute(Select(*columns).where(end.is_not(None)))).one()
    count, figures = int(found[0]), list(found[1:])
    return Durations(
        count=count,
        percentiles={
            p: None if v is None else float(v)
            for p, v in zip(percents, figures[: len(percents)], strict=True)
        },
        within={t: int(n) for t, n in zip(within, figures[len(percents) :], strict=True)},
    )


async def _durations_read(
    session: AsyncSession, pairs: Select[Any], percents: Sequence[int], within: Sequence[float]
) -> Durations:
    # SQLite: no percentile functions and floating-point date arithmetic, so the two
    # timestamps are read (columns only) and the seconds computed exactly here.
    values = [
        (end - start).total_seconds()
        for start, end in (await session.execute(pairs)).all()
        if isinstance(end, datetime)
    ]
    return Durations(
        count=len(values),
        percentiles={p: nearest_rank(values, p) for p in percents},
        within={t: sum(1 for v in values if v <= t) for t in within},
    )


async def durations_by(
    session: AsyncSession, triples: Select[Any], *, percents: Sequence[int] = (50, 90)
) -> dict[Any, Durations]:
    """`durations` per key, for `triples`, a statement selecting (key, start, end)."""
    if backend_of(session) == Backend.POSTGRESQL:
        rows = triples.subquery()
        key, start, end = list(rows.c)[:3]
        seconds = cast(extract("epoch", end - start), Float)
        columns: list[ColumnElement[Any]] = [key, func.count(seconds)]
        columns += [func.percentile_disc(p / 100).within_group(seconds) for p in percents]
        found: Sequence[Any] = (
            await session.execute(Select(*columns).where(end.is_not(None)).group_by(key))
        ).all()
        return {
            row[0]: Durations(
                count=int(row[1]),
                percentiles={
                    p: None if v is None else float(v)
                    for p, v in zip(percents, row[2:], strict=True)
                },
                within={},
            )
            for row in found
        }
    values: dict[Any, list[float]] = {}
    for key, start, end in (await session.execute(triples)).all():
        if isinstance(end, datetime):
            values.setdefault(key, []).append((end - start).total_seconds())
    return {
        key: Durations(
            count=len(seconds),
            percentiles={p: nearest_rank(seconds, p) for p in percents},
            within={},
        )
        for key, seconds in values.items()
    }


async def total_seconds_by(session: AsyncSession, triples: Select[Any]) -> dict[Any, float]:
    """The sum of `end - start` per key, for `triples` selecting (key, start, end); rows
    without an end are left out."""
    if backend_of(session) == Backend.POSTGRESQL:
        rows = triples.subquery()
        key, start, end = list(rows.c)[:3]
        total = func.sum(cast(extract("epoch", end - start), Float))
        found: Sequence[Any] = (
            await session.execute(Select(key, total).where(end.is_not(None)).group_by(key))
        ).all()
        return {row[0]: float(row[1]) for row in found}
    sums: dict[Any, float] = {}
    for key, start, end in (await session.execute(triples)).all():
        if isinstance(end, datetime):
            sums[key] = sums.get(key, 0.0) + (end - start).total_seconds()
    return sums
