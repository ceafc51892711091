"""Golden eval cases: one JSONL file per prompt use case under `evals/golden/`, validated on load.

A case names its input (what the operator or shopper supplied), the tenant fixture it runs against (the demo
shop, `hub seed demo`), and what a good answer looks like: facts it must and must not contain, the intent or
tools it should use, the language it is written in, expected structured fields, a reference answer and the reference contexts (policy
passages) for the string and context metrics.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.languages import DEFAULT_LANGUAGE, Language

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
USE_CASES = (
    "customer_reply",
    "crm_customer_summary",
    "crm_followup_draft",
    "next_best_action",
    "seo_product_copy",
    "photo_brief",
)
MIN_CASES = 30


class Expect(BaseModel):
    model_config = ConfigDict(extra="forbid")

    intent: str | None = None
    tools: list[str] | None = None
    must_include: list[str] = Field(default_factory=list)
    """Substrings (case-insensitive) a good answer contains: prices, SKUs, order facts, names, keywords."""
    must_not_include: list[str] = Field(default_factory=list)
    """Substrings that would be wrong: another customer's data, invented terms, a competitor's price."""
    fields: dict[str, Any] = Field(default_factory=dict)
    """Expected structured output fields; a list value means "any of these"."""
    reference: str | None = None
    """A good answer, for string similarity, ROUGE and BLEU."""
    reference_contexts: list[str] = Field(default_factory=list)
    """Passages a good answer is based on, for context precision and recall."""
    language: Language = DEFAULT_LANGUAGE
    """The language the shopper writes in and a good reply answers in; cases written before HUB spoke other
    languages leave it out and are English."""


class EvalCase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    fixture: Literal["demo"] = "demo"
    input: dict[str, Any]
    expect: Expect
    source: Literal["production"] | None = None
    """Where the case came from when not written for the set: `production` for a shopper's turn that was rated down
    and corrected, adopted with `hub eval adopt` (`evals.adopt`)."""
    source_message: str | None = None
    """For a production case: the id of the assistant message it was adopted from (adopting it twice is refused)."""


class CaseFileError(ValueError):
    """A golden file the QA author can fix: the message names the file, line and field."""


def golden_path(use_case: str) -> Path:
    return GOLDEN_DIR / f"{use_case}.jsonl"


def load_cases(use_case: str, path: Path | None = None) -> list[EvalCase]:
    """Read and validate one use case's golden set; ids must be unique."""
    path = path or golden_path(use_case)
    if not path.is_file():
        raise CaseFileError(f"no golden set for {use_case}: {path} does not exist")
    cases: list[EvalCase] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            cases.append(EvalCase.model_validate(json.loads(line)))
        except (json.JSONDecodeError, ValidationError) as exc:
            raise CaseFileError(f"{path.name}:{number}: {exc}") from None
    ids = [c.id for c in cases]
    if len(set(ids)) != len(ids):
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        raise CaseFileError(f"{path.name}: duplicate case ids {', '.join(dupes)}")
    return cases


def golden_sha256(use_case: str) -> str:
    """Hash of a use case's golden file: a baseline records it, so a changed eval set re-runs the gate."""
    return hashlib.sha256(golden_path(use_case).read_bytes()).hexdigest()


def golden_hashes() -> dict[str, str]:
    """Use case → its golden set's sha256, for every use case with a set: what a current eval run was measured on."""
    return {use_case: golden_sha256(use_case) for use_case in USE_CASES}
