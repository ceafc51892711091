"""A process's copy of something built per tenant from the database, kept while the tenant's data is unchanged."""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from typing import Generic, TypeVar

V = TypeVar("V")
T = TypeVar("T")


class TenantCache(Generic[V, T]):
    """The most recently used `size` tenants' values, each with the version of the data it was built from.

    A reader asks the database for the version (a cheap query), then `get`s the value built from that version or
    builds it and `put`s it; another process's writes change the version, so they are seen on the next read.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._values: OrderedDict[uuid.UUID, tuple[V, T]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, tenant_id: uuid.UUID, version: V) -> T | None:
        with self._lock:
            cached = self._values.get(tenant_id)
            if cached is None or cached[0] != version:
                return None
            self._values.move_to_end(tenant_id)
            return cached[1]

    def put(self, tenant_id: uuid.UUID, version: V, value: T) -> None:
        with self._lock:
            self._values[tenant_id] = (version, value)
            self._values.move_to_end(tenant_id)
            while len(self._values) > self._size:
                self._values.popitem(last=False)
