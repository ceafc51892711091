"""Say what an eval run was asked to do (`RunSpec`) and what it found (`RunResult`), for the runner and the reports."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from evals.cases import EvalCase
from evals.gate import Baseline
from hub.db import models as m


@dataclass(frozen=True)
class RunSpec:
    use_case: str
    prompt_version: str | None = None
    """None: the tenant's pin, else the default pin."""
    model: str | None = None
    """Override the configured model for this run."""
    tenant: m.Tenant | None = None
    """Run with this tenant's settings (pins, AI switches); the data is always the fixture's."""
    sim: bool = False
    """Answer with the simulated model (CI), not a configured one."""
    limit: int | None = None


@dataclass(frozen=True)
class CaseTrace:
    """Where a case's turn can be looked into: its reply message, its trace, and the explain view of both, saved
    with the report because the fixture shop they were written in is thrown away after the run."""

    message_id: str
    trace_id: str
    explain: str
    """`hub explain MESSAGE_ID`'s markdown for the turn, taken before the fixture went."""


@dataclass
class RunResult:
    id: uuid.UUID
    spec: RunSpec
    mode: str
    prompt_version: str
    model: str | None
    metrics: dict[str, float]
    per_case: list[dict[str, Any]]
    golden_sha256: str
    started_at: datetime
    finished_at: datetime
    cases: list[EvalCase] = field(default_factory=list)
    golden_cases: int = 0
    """How many cases the golden set has; fewer were run with `--limit` (a partial run proves nothing for a pin)."""
    passed: bool = False
    verdict: list[str] = field(default_factory=list)
    baseline: Baseline | None = None
    """What the run was judged against."""
    report_dir: Path | None = None
    usage: dict[str, dict[str, float]] = field(default_factory=dict)
    """The run's usage ledger per feature (`calls`, `cost_usd`): the judge's calls are the `evals` feature."""
    gate: str | None = None
    """`contract` or `quality` when a gate ran it: the reports and the output name the gate."""
    traces: dict[str, CaseTrace] = field(default_factory=dict)
    """Case id → its turn's trace (the shopper turns of `customer_reply`; the structured use cases call the gateway
    without a message to explain)."""

    @property
    def label(self) -> str:
        gate = f"{self.gate} gate: " if self.gate else ""
        return (
            f"{gate}{self.spec.use_case}@{self.prompt_version} ({self.mode}{', ' + self.model if self.model else ''})"
        )
