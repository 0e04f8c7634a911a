"""A small in-process cache whose entries expire: for answers the database would give
again, so that hot requests skip a round trip."""

import time
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class ExpiringCache(Generic[K, V]):
    """At most `size` entries, each trusted for `seconds` (0 turns the cache off).

    When full it starts again empty: simpler than evicting one by one, and a miss only
    costs the look-up the cache saves.
    """

    def __init__(self, seconds: float, size: int) -> None:
        self.seconds, self.size = seconds, size
        self._entries: dict[K, tuple[V, float]] = {}
        # Counts `clear`s: a value read before one is stale, `put(…, generation=)` skips it.
        self.generation = 0

    def get(self, key: K) -> V | None:
        found = self._entries.get(key)
        if found is None or found[1] < time.monotonic():
            return None
        return found[0]

    def put(self, key: K, value: V, *, generation: int | None = None) -> None:
        if self.seconds <= 0 or generation not in (None, self.generation):
            return
        if len(self._entries) >= self.size:
            self._entries.clear()
        self._entries[key] = (value, time.monotonic() + self.seconds)

    def clear(self) -> None:
        self.generation += 1
        self._entries.clear()
