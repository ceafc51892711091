"""Split a run's case scores by the language a case is written in and by the intent it expects.

A suite's means hide a language the product does not speak yet: 45 English cases at 1.0 and 9 Spanish ones at
0.0 still average 0.83. The tables here put each language and each intent on a row of its own.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hub.languages import DEFAULT_LANGUAGE, LANGUAGES

PASS_CHECKS = (
    "schema_valid",
    "rules_pass",
    "facts_recall",
    "no_forbidden",
    "routing",
    "tools_match",
    "fields_match",
    "language_match",
)
"""The checks a case must get fully right to pass; similarity scores, cost and latency only describe it."""


@dataclass(frozen=True)
class LanguageRow:
    language: str
    cases: int
    pass_rate: float
    intent_accuracy: float | None
    """Share of the language's cases routed to the expected intent; None when none expect one."""
    language_match: float | None
    """Share of the language's cases answered in that language; None when the use case has no reply language."""


@dataclass(frozen=True)
class IntentRow:
    intent: str
    cases: int
    intent_accuracy: float


def case_passed(scores: Mapping[str, float]) -> bool:
    """Whether a case got every check it has an expectation for fully right."""
    return all(scores[name] >= 1.0 - 1e-9 for name in PASS_CHECKS if name in scores)


def _mean(values: Sequence[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _order(language: str) -> tuple[int, str]:
    return (LANGUAGES.index(language), language) if language in LANGUAGES else (len(LANGUAGES), language)


def by_language(per_case: Iterable[Mapping[str, Any]]) -> list[LanguageRow]:
    """One row per language the cases are written in, in `hub.languages` order; a case without one is English."""
    groups: dict[str, list[Mapping[str, float]]] = {}
    for case in per_case:
        groups.setdefault(str(case.get("language") or DEFAULT_LANGUAGE), []).append(case["scores"])
    return [
        LanguageRow(
            language=language,
            cases=len(scores),
            pass_rate=statistics.fmean(float(case_passed(s)) for s in scores),
            intent_accuracy=_mean([s["routing"] for s in scores if "routing" in s]),
            language_match=_mean([s["language_match"] for s in scores if "language_match" in s]),
        )
        for language, scores in sorted(groups.items(), key=lambda item: _order(item[0]))
    ]


def by_intent(per_case: Iterable[Mapping[str, Any]]) -> list[IntentRow]:
    """One row per expected intent, by name, over the cases scored on routing; empty for use cases without one."""
    groups: dict[str, list[float]] = {}
    for case in per_case:
        intent, scores = case.get("intent"), case["scores"]
        if intent is not None and "routing" in scores:
            groups.setdefault(str(intent), []).append(scores["routing"])
    return [
        IntentRow(intent=intent, cases=len(hits), intent_accuracy=statistics.fmean(hits))
        for intent, hits in sorted(groups.items())
    ]
