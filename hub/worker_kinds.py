"""Name the kinds of background worker (`hub worker KIND`), importable without Redis or the queues."""

from enum import StrEnum


class WorkerKind(StrEnum):
    CHANNELS = "channels"
    IMAGING = "imaging"
