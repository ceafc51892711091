"""LLM-judged metrics, every call through the gateway: ragas' faithfulness and answer relevancy, and a rubric.

A judge only runs when a model is configured (never on the simulated model: grading the sim's own answers with
the sim proves nothing). Its calls go through the one gateway as the `evals` feature, so they are budget-checked,
rate-limited, billed and in the usage ledger like any other; `HUB_EVAL_JUDGE_MODEL` picks the judge model on the
configured endpoint (else the use case's own model judges).

- `faithfulness` (ragas): the share of the reply's statements that the turn's tool outputs and policy passages
  support; customer replies only (a structured answer's evidence is graded by the rubric instead).
- `answer_relevancy` (ragas): how well questions generated back from the reply match the shopper's message,
  by cosine similarity in the project's offline multilingual sentence encoder; 0 when the reply is noncommittal.
- `rubric_score`, `rubric_grounded`: the `reply_judge` prompt grading a structured use case's answer (summary,
  follow-up, next best action, SEO copy, photo brief) against the operator's request and the case's reference.
  `reply_judge` is reused rather than a second judge prompt: its rubric (every claim grounded in the evidence,
  answers what was asked, safe, clear) is the rubric a structured answer needs, and one judge prompt means one
  thing to version and gate.

A metric whose judge did not answer (budget spent, circuit open, unparseable output) is left out of the case,
never scored as a pass or a fail.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from langchain_core.embeddings import Embeddings
from ragas.dataset_schema import SingleTurnSample
from ragas.embeddings.base import LangchainEmbeddingsWrapper
from ragas.llms.base import LangchainLLMWrapper

from evals.online import JUDGE_FEATURE
from hub.gateway.chat_model import GatewayChatModel
from hub.gateway.context import CallContext
from hub.gateway.gateway import Gateway
from hub.knowledge import encoder
from hub.prompting.outputs import ReplyJudge, Verdict
from hub.tenancy.pins import JUDGED_METRICS

with warnings.catch_warnings():
    # ragas 0.4.3's LLM metrics in `ragas.metrics.collections` take only its own (instructor) clients, which
    # would bypass the gateway; the LangChain-compatible ones live on the old path, which warns.
    warnings.simplefilter("ignore", DeprecationWarning)
    from ragas.metrics import AnswerRelevancy, Faithfulness

log = structlog.get_logger(__name__)

STRUCTURED = frozenset(
    {"crm_customer_summary", "crm_followup_draft", "seo_product_copy", "next_best_action", "photo_brief"}
)
"""Use cases whose answers the rubric judge grades."""
__all__ = ["JUDGED_METRICS", "JUDGE_FEATURE", "STRUCTURED", "EncoderEmbeddings", "Judge"]


class EncoderEmbeddings(Embeddings):
    """The project's offline multilingual sentence encoder as LangChain embeddings (no download, numpy only)."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [[float(x) for x in row] for row in encoder.encode(texts)]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


class Judge:
    """Grade answers with a model through the gateway; one per eval run."""

    def __init__(self, gateway: Gateway, ctx: CallContext, *, relevancy_questions: int = 3) -> None:
        self._gateway = gateway
        self._ctx = ctx
        chat = GatewayChatModel(gateway=gateway, ctx=ctx, feature=JUDGE_FEATURE)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            llm = LangchainLLMWrapper(chat, bypass_temperature=True, bypass_n=True)
            embeddings = LangchainEmbeddingsWrapper(EncoderEmbeddings())
        self._faithfulness = Faithfulness(llm=llm)
        self._relevancy = AnswerRelevancy(llm=llm, embeddings=embeddings, strictness=relevancy_questions)

    async def _metric(self, name: str, score: Callable[[], Awaitable[float]]) -> dict[str, float]:
        try:
            value = float(await score())
        except Exception as exc:  # the judge is a model: any failure leaves the metric out, never fails the case
            log.warning("eval_judge_failed", metric=name, error=f"{type(exc).__name__}: {exc}"[:300])
            return {}
        return {} if math.isnan(value) else {name: min(1.0, max(0.0, value))}

    async def reply(self, message: str, reply: str, contexts: list[str]) -> dict[str, float]:
        """Faithfulness to the turn's evidence and relevancy to the shopper's message."""
        if not reply.strip():
            return {}
        sample = SingleTurnSample(
            user_input=message, response=reply, retrieved_contexts=contexts or ["No tool results and no policies."]
        )
        scores = await self._metric("faithfulness", lambda: self._faithfulness.single_turn_ascore(sample))
        return scores | await self._metric("answer_relevancy", lambda: self._relevancy.single_turn_ascore(sample))

    async def rubric(self, use_case: str, request: dict[str, Any], answer: str, reference: Any) -> dict[str, float]:
        """The `reply_judge` rubric on a structured answer, with the case's request and reference as evidence."""

        def unanswered(_: object) -> ReplyJudge:
            return ReplyJudge(grounded=False, score=0.0, issues=[], verdict=Verdict.FAIL)

        result = await self._gateway.generate(
            self._ctx,
            use_case="reply_judge",
            variables={
                "policies": "",
                "tool_results": json.dumps({"reference_answer": reference}, ensure_ascii=False, default=str),
                "history": "",
                "message": f"The shop's operator asked for a {use_case.replace('_', ' ')}: "
                + json.dumps(request, ensure_ascii=False, default=str),
                "reply": answer,
            },
            fallback=unanswered,
            feature=JUDGE_FEATURE,
        )
        if result.engine != "llm":
            return {}
        return {"rubric_score": result.value.score, "rubric_grounded": float(result.value.grounded)}
