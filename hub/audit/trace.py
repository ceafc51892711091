"""Record one turn as a tree of OpenTelemetry-shaped spans, stored with the turn's transaction.

A `Trace` rides on the gateway's `CallContext`, so every model call made for the turn (the agent's and the
tools') adds its spans without being handed anything new. The span that is open in the current task is kept
in a context variable: a gateway call made inside a tool call becomes that tool span's child. Spans live in
memory until the turn stores them; nothing is written for a turn that is rolled back.
"""

from __future__ import annotations

import contextvars
import secrets
import uuid
from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast

from hub.audit.redact import redact
from hub.db import models as m

SpanKind = Literal["turn", "replay", "gateway", "attempt", "tool", "validate", "fallback"]
TEXT_LIMIT = 20_000
"""Longest string kept in one attribute; a longer one is cut and marked, so one huge tool output cannot bloat a row."""

_current: contextvars.ContextVar[Span | None] = contextvars.ContextVar("hub_current_span", default=None)


def _now() -> datetime:
    return datetime.now(UTC)


def _bounded(value: Any) -> Any:
    """JSON-safe copy of `value` with long strings cut."""
    if isinstance(value, str):
        return value if len(value) <= TEXT_LIMIT else value[:TEXT_LIMIT] + f"… [{len(value) - TEXT_LIMIT} more chars]"
    if isinstance(value, dict):
        return {str(k): _bounded(v) for k, v in cast("dict[Any, Any]", value).items()}  # any keys: str() below
    if isinstance(value, list | tuple):
        return [_bounded(v) for v in cast("list[Any] | tuple[Any, ...]", value)]
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)


@dataclass
class Span:
    trace_id: str
    name: str
    kind: SpanKind
    parent_span_id: str | None = None
    span_id: str = field(default_factory=lambda: secrets.token_hex(8))
    start: datetime = field(default_factory=_now)
    end: datetime | None = None
    status: Literal["ok", "error"] = "ok"
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)

    def set(self, **attributes: Any) -> Span:
        self.attributes.update({k: _bounded(v) for k, v in attributes.items() if v is not None})
        return self

    def event(self, name: str, **attributes: Any) -> None:
        clean = {k: _bounded(v) for k, v in attributes.items() if v is not None}
        self.events.append({"name": name, "ts": _now().isoformat(), "attributes": clean})

    def finish(self, status: Literal["ok", "error"] | None = None, **attributes: Any) -> None:
        self.set(**attributes)
        if status is not None:
            self.status = status
        self.end = _now()

    @property
    def duration_ms(self) -> int:
        end = self.end or _now()
        return round((end - self.start).total_seconds() * 1000)


@dataclass
class Trace:
    """The spans of one turn (or one replay), in the order they started."""

    tenant_id: uuid.UUID
    trace_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    spans: list[Span] = field(default_factory=list)

    def start(self, name: str, kind: SpanKind, *, parent: Span | None = None, **attributes: Any) -> Span:
        """Open a span under `parent`, or under the span open in this task, or as the root."""
        parent = parent or current_span(self)
        span = Span(self.trace_id, name, kind, parent_span_id=parent.span_id if parent else None)
        span.set(**attributes)
        self.spans.append(span)
        return span

    def record(
        self,
        name: str,
        kind: SpanKind,
        *,
        seconds: float = 0.0,
        status: Literal["ok", "error"] = "ok",
        **attributes: Any,
    ) -> Span:
        """Add a span that has already happened and took `seconds` (ending now)."""
        span = self.start(name, kind, **attributes)
        span.end = _now()
        span.start = span.end - timedelta(seconds=max(seconds, 0.0))
        span.status = status
        return span

    @contextmanager
    def span(self, name: str, kind: SpanKind, **attributes: Any) -> Generator[Span]:
        """Open a span for the block and make it the current one, so calls made inside become its children."""
        span = self.start(name, kind, **attributes)
        token = _current.set(span)
        try:
            yield span
        except BaseException as exc:
            span.finish("error", error=f"{type(exc).__name__}: {exc}")
            raise
        finally:
            _current.reset(token)
            if span.end is None:
                span.finish()

    @contextmanager
    def activate(self, span: Span) -> Generator[Span]:
        """Make an already-open span the parent of what starts inside the block."""
        token = _current.set(span)
        try:
            yield span
        finally:
            _current.reset(token)

    @property
    def root(self) -> Span | None:
        return next((s for s in self.spans if s.parent_span_id is None), None)

    def rows(self, *, redact_pii: bool = False) -> list[m.TraceSpan]:
        """The spans as database rows (open spans end now), redacted when the tenant asks for it."""
        rows: list[m.TraceSpan] = []
        for span in self.spans:
            attributes, events = span.attributes, span.events
            if redact_pii:
                attributes, events = redact(attributes), redact(events)
            rows.append(
                m.TraceSpan(
                    tenant_id=self.tenant_id,
                    trace_id=span.trace_id,
                    span_id=span.span_id,
                    parent_span_id=span.parent_span_id,
                    name=span.name[:128],
                    kind=span.kind,
                    start_ts=span.start,
                    end_ts=span.end or _now(),
                    status=span.status,
                    attributes=attributes,
                    events=events,
                )
            )
        return rows


def current_span(trace: Trace | None) -> Span | None:
    """The span open in this task, if it belongs to `trace`."""
    span = _current.get()
    return span if span is not None and trace is not None and span.trace_id == trace.trace_id else None
