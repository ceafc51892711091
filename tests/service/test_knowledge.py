"""A shop's own policy and help pages, added from Markdown, HTML, text and PDF: the assistant finds the passage that
answers a question asked in other words or another language, cites it, forgets it once removed, and never shows one
shop's pages to another."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from agents.engine import DeterministicEngine, Pending, ShopVoice
from hub.db import models as m
from hub.knowledge.documents import KnowledgeFile, add_documents, remove_document
from hub.prompting.outputs import Intent
from hub.settings import Settings
from service.cli.common import with_session
from service.cli.main import app
from tests.conftest import Shop, make_shop
from tests.knowledge_pages import CARE_PDF, GIFT_TXT, RETURNS_MD, SHIPPING_HTML
from tools.context import Audience, ToolContext
from tools.engagement import PolicyAnswerInput, PolicyAnswerResult, policy_answer

PAGES = [
    KnowledgeFile("returns.md", RETURNS_MD),
    KnowledgeFile("shipping-faq.html", SHIPPING_HTML),
    KnowledgeFile("gift-wrapping.txt", GIFT_TXT),
    KnowledgeFile("care.pdf", CARE_PDF),
]


def ctx_for(session: AsyncSession, shop: Shop) -> ToolContext:
    return ToolContext(session=session, tenant_id=shop.tenant_id, audience=Audience.CUSTOMER, channel=m.Channel.WEB)


async def ask(session: AsyncSession, shop: Shop, question: str) -> PolicyAnswerResult:
    return await policy_answer(ctx_for(session, shop), PolicyAnswerInput(question=question, max_passages=1))


async def with_pages(session: AsyncSession, slug: str) -> Shop:
    shop = await make_shop(session, slug)
    await add_documents(session, shop.tenant_id, PAGES)
    await session.commit()
    return shop


async def test_pages_in_four_formats_answer_questions_in_other_words_and_languages(session: AsyncSession) -> None:
    shop = await make_shop(session, "fjord")
    summary = await add_documents(session, shop.tenant_id, [*PAGES, KnowledgeFile("notes.docx", b"PK\x03\x04")])
    await session.commit()
    assert (summary.documents, summary.added, summary.updated, summary.unchanged) == (4, 4, 0, 0)
    assert [(r.path, r.reason.split(":")[0]) for r in summary.rejected] == [
        ("notes.docx", "unsupported file type '.docx'")
    ]
    expected = {
        "how many days do I have to send something back?": ("returns", "Return window"),
        "when will I see my money again after a return?": ("returns", "Refund timing"),
        "what does it cost to get my order delivered?": ("shipping-faq", "How much is delivery?"),
        "do you post to Finland?": ("shipping-faq", "Which countries do you send parcels to?"),
        "can you wrap my present?": ("gift-wrapping", "Gift wrapping"),
        "will you fix my sweater if a seam comes loose?": ("care", "Care and repairs"),
        "¿Cuántos días tengo para devolver un artículo?": ("returns", "Return window"),
        "Was kostet die Lieferung?": ("shipping-faq", "How much is delivery?"),
    }
    got = {}
    for question in expected:
        result = await ask(session, shop, question)
        got[question] = (result.passages[0].slug, result.passages[0].heading) if result.found else None
    assert got == expected
    nothing = await ask(session, shop, "who won the football last night")
    assert not nothing.found and nothing.passages == []


async def test_the_engine_cites_the_passage_it_answered_from(session: AsyncSession) -> None:
    shop = await with_pages(session, "fjord")
    turn = await DeterministicEngine().answer(
        ctx_for(session, shop),
        "how long until i get a refund for my return?",
        pending=Pending(),
        voice=ShopVoice(name="Fjord & Fern", tone="warm"),
    )
    assert turn.intent is Intent.RETURNS_REFUNDS and turn.tools == ["policy_answer"]
    assert turn.reply.startswith("From our Returns Policy (Refund timing): Once the parcel is back")
    answer = next(o for o in turn.outputs if isinstance(o, PolicyAnswerResult))
    stored = await session.get(m.KnowledgePassage, uuid.UUID(answer.passages[0].passage_id))
    assert stored is not None and stored.heading == "Refund timing" and stored.text in turn.reply


async def test_adding_an_unchanged_file_again_changes_nothing_and_a_changed_one_replaces_its_passages(
    session: AsyncSession,
) -> None:
    shop = await with_pages(session, "fjord")
    before = set((await session.execute(select(m.KnowledgePassage.id))).scalars())

    again = await add_documents(session, shop.tenant_id, PAGES)
    await session.commit()
    assert (again.documents, again.added, again.updated, again.unchanged) == (4, 0, 0, 4)
    assert set((await session.execute(select(m.KnowledgePassage.id))).scalars()) == before

    edited = RETURNS_MD.replace(b"45 days", b"60 days")
    changed = await add_documents(session, shop.tenant_id, [KnowledgeFile("returns.md", edited)])
    await session.commit()
    assert (changed.added, changed.updated, changed.unchanged) == (0, 1, 0)
    window = (await ask(session, shop, "how many days do I have to send something back?")).passages[0]
    assert "60 days" in window.text and uuid.UUID(window.passage_id) not in before


async def test_a_removed_page_is_no_longer_quoted(session: AsyncSession) -> None:
    shop = await with_pages(session, "fjord")
    question = "can you wrap my present?"
    assert (await ask(session, shop, question)).found

    removed = await remove_document(session, shop.tenant_id, "gift-wrapping")
    await session.commit()

    assert removed is not None and removed.passages == 1
    result = await ask(session, shop, question)
    assert all(p.slug != "gift-wrapping" for p in result.passages)
    assert await remove_document(session, shop.tenant_id, "gift-wrapping") is None


async def test_one_shop_never_gets_another_shops_passages(session: AsyncSession) -> None:
    fjord = await with_pages(session, "fjord")
    other = await make_shop(session, "other")
    assert not (await ask(session, other, "how many days do I have to send something back?")).found

    await add_documents(
        session, other.tenant_id, [KnowledgeFile("returns.md", b"# Returns\n\nReturns are accepted within 14 days.\n")]
    )
    await session.commit()
    theirs = (await ask(session, other, "how many days do I have to send something back?")).passages[0]
    ours = (await ask(session, fjord, "how many days do I have to send something back?")).passages[0]
    assert "14 days" in theirs.text and "45 days" in ours.text
    passage_tenants = {
        uuid.UUID(p.passage_id): (await session.get(m.KnowledgePassage, uuid.UUID(p.passage_id)))
        for p in (theirs, ours)
    }
    assert {row.tenant_id for row in passage_tenants.values() if row} == {fjord.tenant_id, other.tenant_id}


def test_hub_knowledge_add_list_remove_on_the_command_line(cli_settings: Settings, tmp_path: Path) -> None:
    shop = with_session(cli_settings, lambda session: make_shop(session, "fjord"))
    (tmp_path / "returns.md").write_bytes(RETURNS_MD)
    (tmp_path / "care.pdf").write_bytes(CARE_PDF)
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 this is not a pdf")
    runner = CliRunner()
    command = ["knowledge", "add", "--tenant", shop.slug]
    paths = [str(tmp_path / n) for n in ("returns.md", "care.pdf", "broken.pdf")]

    first = runner.invoke(app, [*command, *paths, "--json"])
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout.strip().splitlines()[-1])
    assert {k: v for k, v in report.items() if k != "rejected"} == {
        "documents": 2,
        "passages": 4,
        "added": 2,
        "updated": 0,
        "unchanged": 0,
    }
    assert [r["path"] for r in report["rejected"]] == [str(tmp_path / "broken.pdf")]

    again = runner.invoke(app, [*command, str(tmp_path / "returns.md"), "--json"])
    assert json.loads(again.stdout.strip().splitlines()[-1])["unchanged"] == 1

    listed = runner.invoke(app, ["knowledge", "list", "--tenant", shop.slug, "--json"])
    docs = json.loads(listed.stdout.strip().splitlines()[-1])["documents"]
    assert [(d["slug"], d["passages"]) for d in docs] == [("care", 1), ("returns", 3)]

    removed = runner.invoke(app, ["knowledge", "remove", "--tenant", shop.slug, docs[0]["id"]])
    assert removed.exit_code == 0 and "removed care" in removed.stdout
    missing = runner.invoke(app, ["knowledge", "remove", "--tenant", shop.slug, "care"])
    assert missing.exit_code == 1 and "no document 'care'" in missing.output


async def test_the_http_twins_take_an_admin_key_and_answer_bad_input_with_4xx(
    api: httpx.AsyncClient, session: AsyncSession
) -> None:
    shop = await make_shop(session, "fjord")
    files = [
        ("files", ("returns.md", RETURNS_MD, "text/markdown")),
        ("files", ("care.pdf", CARE_PDF, "application/pdf")),
    ]

    refused = await api.post("/v1/knowledge", files=files, headers={"X-Hub-Key": shop.operator_key})
    assert refused.status_code == 403
    empty = await api.post("/v1/knowledge", data={"kind": "help"}, headers={"X-Hub-Key": shop.admin_key})
    assert empty.status_code == 422
    bad_kind = await api.post(
        "/v1/knowledge", files=files, data={"kind": "gossip"}, headers={"X-Hub-Key": shop.admin_key}
    )
    assert bad_kind.status_code == 422

    added = await api.post(
        "/v1/knowledge",
        files=[*files, ("files", ("scan.docx", b"PK", "application/octet-stream"))],
        data={"kind": "help"},
        headers={"X-Hub-Key": shop.admin_key},
    )
    assert added.status_code == 200, added.text
    body = added.json()
    assert (body["documents"], body["added"], [r["path"] for r in body["rejected"]]) == (2, 2, ["scan.docx"])

    listed = (await api.get("/v1/knowledge", headers={"X-Hub-Key": shop.admin_key})).json()["documents"]
    assert [(d["slug"], d["kind"]) for d in listed] == [("care", "help"), ("returns", "help")]

    missing = await api.delete("/v1/knowledge/nothing-here", headers={"X-Hub-Key": shop.admin_key})
    assert missing.status_code == 404
    gone = await api.delete(f"/v1/knowledge/{listed[0]['id']}", headers={"X-Hub-Key": shop.admin_key})
    assert gone.status_code == 200 and gone.json()["removed"]["slug"] == "care"
    left = (await api.get("/v1/knowledge", headers={"X-Hub-Key": shop.admin_key})).json()["documents"]
    assert [d["slug"] for d in left] == ["returns"]


async def test_passages_stored_without_a_vector_are_encoded_when_the_index_loads(session: AsyncSession) -> None:
    shop = await with_pages(session, "fjord")
    # What migration 0011 leaves for policies written before passages had vectors.
    await session.execute(update(m.KnowledgePassage).values(embedding=None))
    await session.execute(update(m.PolicyDocument).values(content_hash=""))
    await session.commit()

    answer = await ask(session, shop, "¿Cuántos días tengo para devolver un artículo?")

    assert answer.found and answer.passages[0].heading == "Return window"
