"""Turn production turns that were rated down and corrected into golden cases (`hub eval adopt`).

The JSONL files under `evals/golden/` are the golden source: an adopted case is appended to its use case's file in
the shape of the cases written there (`evals.cases.EvalCase`), with the shopper's message as its input, the
operator's correction as its reference answer, the intent, tools and language of the turn, and the policy passages
its tools returned as reference contexts; personal data is masked (`hub.feedback.candidates` reads it so). Its id
continues the file's numbering (`reply-101`), so a set keeps one id prefix, and it records where it came from
(`source: production`, the message id), so the same turn is never adopted twice.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evals.cases import EvalCase, Expect, load_cases
from hub.feedback import Candidate
from hub.languages import DEFAULT_LANGUAGE, LANGUAGES
from hub.prompting.outputs import Intent

ADOPTABLE = ("customer_reply",)
"""Use cases whose production turns are rated: the shoppers' replies."""
_NUMBERED = re.compile(r"^(?P<prefix>.+)-(?P<n>\d{3,})$")


class AdoptError(ValueError):
    """A candidate that cannot become a case: no correction, adopted before, or not a shopper's turn."""


@dataclass(frozen=True)
class Adopted:
    case: EvalCase
    path: Path


def case_from(candidate: Candidate, case_id: str) -> EvalCase:
    """The golden case a corrected candidate makes; AdoptError when it has no correction to be the reference."""
    reference = candidate.correction
    if not reference:
        raise AdoptError(
            f"reply {candidate.message_id} has no correction: an operator must say what it should have said "
            f"(`/rate {candidate.message_id} down <correction>` in the console) before it can be adopted"
        )
    if candidate.intent not in set(Intent):
        raise AdoptError(f"reply {candidate.message_id} has no recorded intent: a golden case needs one")
    if not candidate.shopper_message.strip():
        raise AdoptError(f"reply {candidate.message_id} answers no shopper message")
    ok = [c for c in candidate.tools if c.get("status") == "ok"]
    contexts = [
        str(p["text"])
        for c in ok
        if c.get("tool") == "policy_answer" and isinstance(c.get("result"), dict)
        for p in _passages(c["result"])
    ]
    language = candidate.language if candidate.language in LANGUAGES else DEFAULT_LANGUAGE
    return EvalCase.model_validate(
        {
            "id": case_id,
            "fixture": "demo",
            "input": {"message": candidate.shopper_message},
            "expect": Expect.model_validate(
                {
                    "intent": candidate.intent,
                    "tools": list(dict.fromkeys(str(c["tool"]) for c in ok)),
                    "reference": reference,
                    "reference_contexts": contexts,
                    "language": language,
                }
            ),
            "source": "production",
            "source_message": str(candidate.message_id),
        }
    )


def _passages(result: dict[str, Any]) -> list[dict[str, Any]]:
    found = result.get("passages")
    return [p for p in found if isinstance(p, dict) and p.get("text")] if isinstance(found, list) else []


def next_id(existing: list[EvalCase], use_case: str) -> str:
    """The next id in the set's numbering: `reply-101` after `reply-100`."""
    numbered = [match for c in existing if (match := _NUMBERED.match(c.id))]
    if not numbered:
        return f"{use_case.replace('_', '-')}-001"
    prefix = numbered[0]["prefix"]
    top = max(int(match["n"]) for match in numbered if match["prefix"] == prefix)
    return f"{prefix}-{top + 1:03d}"


def adopt(candidates: list[Candidate], use_case: str, golden_dir: Path) -> list[Adopted]:
    """Append a case per candidate to `golden_dir/<use_case>.jsonl`; all or none (AdoptError names the first problem)."""
    if use_case not in ADOPTABLE:
        raise AdoptError(f"production turns are rated for {', '.join(ADOPTABLE)} only, not {use_case}")
    path = golden_dir / f"{use_case}.jsonl"
    existing = load_cases(use_case, path) if path.is_file() else []
    taken = {c.source_message for c in existing if c.source_message}
    made: list[EvalCase] = []
    for candidate in candidates:
        if str(candidate.message_id) in taken:
            raise AdoptError(f"reply {candidate.message_id} was adopted before")
        case = case_from(candidate, next_id([*existing, *made], use_case))
        taken.add(str(candidate.message_id))
        made.append(case)
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    lines = "".join(json.dumps(_row(c), ensure_ascii=False) + "\n" for c in made)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + ("" if not text or text.endswith("\n") else "\n") + lines, encoding="utf-8")
    load_cases(use_case, path)  # what was written reads back
    return [Adopted(case, path) for case in made]


def _row(case: EvalCase) -> dict[str, Any]:
    """A case as the golden files write one: fields left empty are left out (the tools always said)."""
    row = case.model_dump(mode="json", exclude_none=True)
    row["expect"] = {k: v for k, v in row["expect"].items() if k == "tools" or v not in ([], {}, "")}
    return row
