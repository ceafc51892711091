"""Account for one gateway call: its attempts, rungs, usage rows and cost."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Generic, Literal, TypeVar

from hub.audit.trace import Span
from hub.db.models import UsageOutcome
from hub.gateway import tokens
from hub.gateway.context import CallContext
from hub.gateway.guards import Refusal
from hub.gateway.ledger import UsageLedger
from hub.gateway.pricing import PriceTable
from hub.gateway.transport import Failure

T = TypeVar("T")
Step = Literal[
    "guard",
    "switched_off",
    "circuit_open",
    "attempt_failed",
    "invalid_output",
    "reask",
    "next_model",
    "answer",
    "fallback",
]
FALLBACK_PROVIDER = "none"
FALLBACK_MODEL = "deterministic"


@dataclass(frozen=True, slots=True)
class Rung:
    """One step of the ladder, in order: what happened and why."""

    step: Step
    model: str | None
    attempt: int | None
    detail: str = ""


@dataclass(frozen=True)
class GenerationResult(Generic[T]):
    value: T
    engine: Literal["llm", "deterministic"]
    model: str | None
    prompt_ref: str | None
    rungs: list[Rung]
    cost: Decimal
    attempts: int
    fallback_reason: Refusal | None = None
    input_tokens: int = 0
    """Prompt tokens of every attempt of the call: what the tenant paid to send."""
    budget_warning: str | None = None
    request_id: str = ""
    trace_id: str = ""


@dataclass
class CallRun:
    """Mutable record of one call as it climbs the ladder; every attempt becomes a usage row."""

    ledger: UsageLedger
    prices: PriceTable
    ctx: CallContext
    feature: str
    provider: str
    prompt_id: str | None
    prompt_version: str | None
    prompt_sha256: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    """What the model was asked with (temperature, max_tokens, tool names …), for the trace."""
    started: float = field(default_factory=time.monotonic)
    attempt: int = 0
    cost: Decimal = Decimal(0)
    input_tokens: int = 0
    """Prompt tokens sent, over every attempt that got an answer."""
    rungs: list[Rung] = field(default_factory=list)
    _span: Span | None = None

    @property
    def span(self) -> Span | None:
        """This call's `gateway` span in the request's trace (opened on first use), or None when untraced."""
        trace = self.ctx.trace
        if trace is None:
            return None
        if self._span is None:
            prompt = f"{self.prompt_id}@{self.prompt_version}" if self.prompt_id else None
            self._span = trace.start(
                f"gateway.call {self.feature}",
                "gateway",
                feature=self.feature,
                provider=self.provider,
                prompt=prompt,
                prompt_sha256=self.prompt_sha256,
                replay_of=self.ctx.replay_of,
            )
            self._span.start -= timedelta(seconds=time.monotonic() - self.started)  # opened lazily, began with the run
        return self._span

    def rung(self, step: Step, model: str | None = None, detail: str = "", *, attempt: int | None = None) -> None:
        self.rungs.append(Rung(step, model, attempt, detail))
        if (span := self.span) is not None:
            span.event(step, model=model, attempt=attempt, detail=detail or None)

    def _trace_attempt(self, model: str, latency_s: float, outcome: UsageOutcome, **attributes: Any) -> None:
        span = self.span
        if span is None or self.ctx.trace is None:
            return
        self.ctx.trace.record(
            "model.attempt",
            "attempt",
            parent=span,
            seconds=latency_s,
            status="ok" if outcome == UsageOutcome.OK else "error",
            model=model,
            attempt=self.attempt,
            outcome=str(outcome),
            params=self.params or None,
            **attributes,
        )
        span.finish(
            "ok" if outcome == UsageOutcome.OK else None, model=model, attempts=self.attempt, cost=str(self.cost)
        )

    def _row(
        self,
        *,
        model: str,
        provider: str,
        outcome: UsageOutcome,
        latency_s: float,
        ts: datetime | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        row = {
            "ts": ts or datetime.now(UTC),
            "tenant_id": self.ctx.tenant_id,
            "feature": self.feature,
            "provider": provider,
            "model": model,
            "prompt_id": self.prompt_id,
            "prompt_version": self.prompt_version,
            "input_tokens": 0,
            "output_tokens": 0,
            "tokens_estimated": False,
            "latency_ms": round(latency_s * 1000),
            "cost": Decimal(0),
            "request_id": self.ctx.request_id,
            "trace_id": self.ctx.trace_id,
            "attempt": self.attempt,
            "outcome": outcome,
            "price_version": None,
            "error": None,
            "replay_of": self.ctx.replay_of,
        }
        row.update(extra)
        return row

    def failure_recorder(self, model: str) -> tuple[list[Failure], Callable[[Failure, float], None]]:
        """Return a list that collects one ask's transport failures, and the callback that fills and bills it."""
        failures: list[Failure] = []

        def record(failure: Failure, latency_s: float) -> None:
            failures.append(failure)
            self.failed_attempt(model, failure, latency_s)

        return failures, record

    def failed_attempt(self, model: str, failure: Failure, latency_s: float) -> None:
        """Bill a transport failure (the provider charged nothing we can see) and note the rung."""
        self.attempt += 1
        outcome = UsageOutcome.RETRYABLE_ERROR if failure.retryable else UsageOutcome.ERROR
        self.ledger.record(
            self._row(
                model=model, provider=self.provider, outcome=outcome, latency_s=latency_s, error=failure.summary()
            )
        )
        self.rung("attempt_failed", model, failure.summary(), attempt=self.attempt)
        self._trace_attempt(model, latency_s, outcome, error=failure.summary())

    def answered_attempt(
        self,
        model: str,
        *,
        latency_s: float,
        usage: tuple[int, int] | None,
        messages: list[dict[str, Any]],
        output_text: str,
        errors: list[str],
        raw_output: Any = None,
        tools: list[Any] | None = None,
    ) -> None:
        """Bill an attempt that came back with an answer, valid or not; `raw_output` is what the trace keeps."""
        self.attempt += 1
        if usage is None:
            input_tokens = tokens.count_messages(model, messages) + (tokens.count_tools(model, tools) if tools else 0)
            output_tokens = tokens.count_text(model, output_text)
        else:
            input_tokens, output_tokens = usage
        now = datetime.now(UTC)
        price = self.prices.price(model, now, self.ctx.tenant.price_overrides)
        cost = price.cost(input_tokens, output_tokens)
        self.cost += cost
        self.input_tokens += input_tokens
        outcome = UsageOutcome.INVALID_OUTPUT if errors else UsageOutcome.OK
        self.ledger.record(
            self._row(
                model=model,
                provider=self.provider,
                outcome=outcome,
                latency_s=latency_s,
                ts=now,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                tokens_estimated=usage is None,
                cost=cost,
                price_version=price.version,
                error="; ".join(errors)[:500] if errors else None,
            )
        )
        if errors:
            self.rung("invalid_output", model, "; ".join(errors), attempt=self.attempt)
        else:
            self.rung("answer", model, attempt=self.attempt)
        if self.ctx.trace is None:  # untraced calls (most structured ones) skip building the span's attributes
            return
        self._trace_attempt(
            model,
            latency_s,
            outcome,
            messages=messages,
            output=output_text if raw_output is None else raw_output,
            validation_errors=errors or None,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            tokens_estimated=usage is None,
            cost=str(cost),
            price_version=price.version,
        )

    def fell_back(self, reason: Refusal, detail: str) -> None:
        self.attempt += 1
        self.ledger.record(
            self._row(
                model=FALLBACK_MODEL,
                provider=FALLBACK_PROVIDER,
                outcome=UsageOutcome.FALLBACK,
                latency_s=time.monotonic() - self.started,
                error=f"{reason}: {detail}"[:500],
            )
        )
        self.rung("fallback", None, f"{reason}: {detail}", attempt=self.attempt)
        if (span := self.span) is not None:
            span.finish("error", outcome="fallback", fallback_reason=f"{reason}: {detail}", cost=str(self.cost))
