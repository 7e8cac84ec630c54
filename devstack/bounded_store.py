"""What the mail catcher and the SMS sink received: the newest ``capacity`` items by id in memory, oldest dropped
first, every write O(1). The sinks start empty every time, like the broker.

Only the event loop's thread touches a store (the SMTP handler and the ``async def`` HTTP handlers), so it needs no
lock; a reader iterates without awaiting in between.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

DEFAULT_CAPACITY = 50_000

Item = TypeVar("Item")


class BoundedStore(Generic[Item]):
    """The newest ``capacity`` items, keyed by ``key(item)``; adding one more drops the oldest."""

    def __init__(self, key: Callable[[Item], str], capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._key = key
        self._capacity = capacity
        self._items: OrderedDict[str, Item] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def add(self, item: Item) -> None:
        self._items[self._key(item)] = item
        if len(self._items) > self._capacity:
            self._items.popitem(last=False)

    def get(self, item_id: str) -> Item | None:
        return self._items.get(item_id)

    def newest(self, *, start: int = 0, limit: int | None = None) -> Iterator[Item]:
        """Newest first, lazily: a reader pays for ``start`` plus what it reads, not for the size of the store."""
        stop = None if limit is None else start + limit
        return itertools.islice(reversed(self._items.values()), start, stop)

    def delete(self, ids: Iterable[str]) -> int:
        """Drop these items; return how many there were (unknown ids are no error)."""
        return sum(self._items.pop(item_id, None) is not None for item_id in ids)

    def clear(self) -> int:
        count = len(self._items)
        self._items.clear()
        return count
