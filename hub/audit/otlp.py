"""Export stored trace spans to an OpenTelemetry collector over OTLP/HTTP when `HUB_OTLP_ENDPOINT` is set.

The database keeps the trace that `hub explain` reads; this is a copy for the platform's own tracing stack
(Jaeger, Tempo, Honeycomb …). Spans are queued and sent in batches by the SDK's processor on its own thread,
so a slow or dead collector never holds up a turn; spans it cannot take are dropped and logged by the SDK.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, cast

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanContext, TraceFlags
from opentelemetry.trace.status import Status, StatusCode

from hub.db import models as m

_RESOURCE = Resource.create({"service.name": "hub"})


def _ns(at: datetime) -> int:
    return int(at.timestamp() * 1_000_000_000)


def _attributes(values: dict[str, Any], prefix: str = "hub.") -> dict[str, Any]:
    """OTLP attributes take scalars or lists of them: anything else travels as JSON text."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, str | bool | int | float):
            out[prefix + key] = value
        elif isinstance(value, list) and all(isinstance(v, str) for v in cast("list[Any]", value)):
            out[prefix + key] = value
        else:
            out[prefix + key] = json.dumps(value, ensure_ascii=False, default=str)
    return out


def _context(trace_id: str, span_id: str) -> SpanContext:
    return SpanContext(int(trace_id, 16), int(span_id, 16), is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))


def to_otel(row: m.TraceSpan) -> ReadableSpan:
    """One stored span as the SDK's span, ready for any exporter."""
    attributes = {"hub.tenant_id": str(row.tenant_id), "hub.span_kind": row.kind, **_attributes(row.attributes)}
    events = [
        Event(e["name"], _attributes(e.get("attributes", {})), _ns(datetime.fromisoformat(e["ts"]))) for e in row.events
    ]
    return ReadableSpan(
        row.name,
        context=_context(row.trace_id, row.span_id),
        parent=_context(row.trace_id, row.parent_span_id) if row.parent_span_id else None,
        resource=_RESOURCE,
        attributes=attributes,
        events=events,
        status=Status(StatusCode.ERROR if row.status == "error" else StatusCode.OK),
        start_time=_ns(row.start_ts),
        end_time=_ns(row.end_ts),
    )


class OtlpExport:
    """A batching OTLP/HTTP exporter; `shutdown` sends what is queued."""

    def __init__(self, endpoint: str) -> None:
        self._processor = BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint), schedule_delay_millis=1000)

    def emit(self, rows: list[m.TraceSpan]) -> None:
        for row in rows:
            self._processor.on_end(to_otel(row))

    def flush(self, timeout_s: float = 5.0) -> bool:
        return self._processor.force_flush(int(timeout_s * 1000))

    def shutdown(self) -> None:
        self._processor.shutdown()
