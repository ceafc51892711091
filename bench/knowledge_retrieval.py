"""Time policy retrieval on a shop with ~500 passages: hybrid (BM25 + sentence-encoder cosine) against BM25 alone.

Builds a SQLite shop whose help centre is the demo shop's 15 policies plus generated help pages, ~500 passages in
all, added through `hub knowledge add`'s path (reading, splitting, encoding); then asks a fixed set of questions
through `policy_answer` (the tool the engine and the model call) and prints the time to add the pages, the first
question (the tenant's index built from the database), and p50/p95 of warm questions, for the hybrid ranking and,
on the same loaded index, BM25 alone (the ranking this replaced): the ratio is what meaning costs per question.

    python -m bench.knowledge_retrieval [--pages 60] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime

from hub.db import models as m
from hub.db.engine import create_engine, session_factory
from hub.db.migrate import upgrade
from hub.knowledge.documents import KnowledgeFile, add_documents
from hub.seed.catalog import build_demo_shop
from hub.seed.demo import policy_files
from hub.tenancy import admin
from tools.context import Audience, ToolContext
from tools.engagement import PolicyAnswerInput, policy_answer
from tools.retrieval.policies import bm25, encode_question, load_index, query_weights

QUESTIONS = [
    "how long do refunds take",
    "do you ship to canada",
    "can I pay with Klarna or PayPal?",
    "how do i reset my password",
    "the zip on my jacket broke",
    "¿Cuánto tarda el reembolso?",
    "Wie setze ich mein Passwort zurück?",
    "what's the weather in Paris tomorrow",
]
TOPICS = ["care", "sizing", "delivery", "payment", "loyalty", "stores", "gifts", "repairs", "accounts"]


def help_page(n: int) -> KnowledgeFile:
    """A generated help page of eight sections of about 90 words each."""
    topic = TOPICS[n % len(TOPICS)]
    sections = []
    for s in range(8):
        sentences = " ".join(
            f"Point {k} about {topic} in section {s} of guide {n}: our team explains how {topic} works for item "
            f"group {n * 8 + s} and what to expect."
            for k in range(4)
        )
        sections.append(f"## {topic.title()} question {s}\n\n{sentences}\n")
    return KnowledgeFile(f"guide-{n}-{topic}.md", f"# {topic.title()} guide {n}\n\n{''.join(sections)}".encode())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def main(pages: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp}/bench.db")
        await upgrade(engine)
        sessions = session_factory(engine)
        async with sessions() as session:
            tenant = await admin.create_tenant(session, name="Bench Help Centre")
            files = policy_files(build_demo_shop(datetime(2026, 1, 1, tzinfo=UTC))) + [
                help_page(n) for n in range(pages)
            ]
            started = time.perf_counter()
            summary = await add_documents(session, tenant.id, files)
            await session.commit()
            added_s = time.perf_counter() - started
        print(f"added {summary.documents} documents, {summary.passages} passages in {added_s:.2f} s")
        async with sessions() as session:
            ctx = ToolContext(session=session, tenant_id=tenant.id, audience=Audience.CUSTOMER, channel=m.Channel.WEB)
            started = time.perf_counter()
            await policy_answer(ctx, PolicyAnswerInput(question=QUESTIONS[0]))
            print(f"first question (index built from the database): {(time.perf_counter() - started) * 1000:.1f} ms")
            tool: list[float] = []
            hybrid: list[float] = []
            keyword: list[float] = []
            index = await load_index(ctx.data.policies)
            for _ in range(rounds):
                for q in QUESTIONS:
                    started = time.perf_counter()
                    await policy_answer(ctx, PolicyAnswerInput(question=q))
                    tool.append((time.perf_counter() - started) * 1000)
                    started = time.perf_counter()
                    index.rank(query_weights(q), await encode_question(q))
                    hybrid.append((time.perf_counter() - started) * 1000)
                    started = time.perf_counter()
                    bm25(index.passages, query_weights(q))
                    keyword.append((time.perf_counter() - started) * 1000)
        await engine.dispose()
    h50, k50 = statistics.median(hybrid), statistics.median(keyword)
    print(f"policy_answer (warm): p50 {statistics.median(tool):.2f} ms, p95 {percentile(tool, 0.95):.2f} ms")
    print(f"hybrid ranking (encode + BM25 + cosine + RRF): p50 {h50:.2f} ms, p95 {percentile(hybrid, 0.95):.2f} ms")
    print(f"BM25 ranking alone: p50 {k50:.2f} ms, p95 {percentile(keyword, 0.95):.2f} ms")
    print(f"ratio hybrid / BM25: {h50 / k50:.2f}x ({len(hybrid)} questions each)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.pages, args.rounds))
