"""Account for one gateway call: its attempts, rungs, usage rows and cost."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Generic, Literal, TypeVar

from hub.db.models import UsageOutcome
from hub.gateway import tokens
from hub.gateway.context import CallContext
from hub.gateway.guards import Refusal
from hub.gateway.ledger import UsageLedger
from hub.gateway.pricing import PriceTable
from hub.gateway.transport import Failure

T = TypeVar("T")
Step = Literal["guard", "circuit_open", "attempt_failed", "invalid_output", "reask", "next_model", "answer", "fallback"]
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
    started: float = field(default_factory=time.monotonic)
    attempt: int = 0
    cost: Decimal = Decimal(0)
    rungs: list[Rung] = field(default_factory=list)

    def rung(self, step: Step, model: str | None = None, detail: str = "", *, attempt: int | None = None) -> None:
        self.rungs.append(Rung(step, model, attempt, detail))

    def _row(
        self, *, model: str, provider: str, outcome: UsageOutcome, latency_s: float, **extra: Any
    ) -> dict[str, Any]:
        row = {
            "ts": datetime.now(UTC),
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

    def answered_attempt(
        self,
        model: str,
        *,
        latency_s: float,
        usage: tuple[int, int] | None,
        messages: list[dict[str, Any]],
        output_text: str,
        errors: list[str],
    ) -> None:
        """Bill an attempt that came back with an answer, valid or not."""
        self.attempt += 1
        if usage is None:
            input_tokens = tokens.count_messages(model, messages)
            output_tokens = tokens.count_text(model, output_text)
        else:
            input_tokens, output_tokens = usage
        price = self.prices.price(model, datetime.now(UTC), self.ctx.tenant.price_overrides)
        cost = price.cost(input_tokens, output_tokens)
        self.cost += cost
        outcome = UsageOutcome.INVALID_OUTPUT if errors else UsageOutcome.OK
        self.ledger.record(
            self._row(
                model=model,
                provider=self.provider,
                outcome=outcome,
                latency_s=latency_s,
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
