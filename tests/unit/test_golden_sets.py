"""The golden eval sets load, are big enough, and cover every intent, engagement tool and language."""

from __future__ import annotations

import re

import pytest

from evals.cases import MIN_CASES, USE_CASES, load_cases
from hub.languages import DEFAULT_LANGUAGE, LANGUAGES
from hub.prompting.outputs import AspectRatio, CustomerSegment, Intent, NextAction
from tools.engagement import ENGAGEMENT_TOOLS
from tools.order_actions import ORDER_ACTION_TOOLS

ENGAGEMENT_TOOL_NAMES = {spec.name for spec in ENGAGEMENT_TOOLS}
ORDER_ACTION_TOOL_NAMES = {spec.name for spec in ORDER_ACTION_TOOLS}


@pytest.mark.parametrize("use_case", USE_CASES)
def test_every_use_case_has_enough_cases_with_unique_ids(use_case: str) -> None:
    loaded = load_cases(use_case)
    ids = [c.id for c in loaded]
    assert len(loaded) >= MIN_CASES
    assert len(set(ids)) == len(ids)
    prefixes = {re.sub(r"-\d{3}$", "", case_id) for case_id in ids}
    assert len(prefixes) == 1, f"{use_case} mixes id prefixes {sorted(prefixes)}"
    assert all(c.fixture == "demo" for c in loaded)


def test_customer_reply_covers_every_intent() -> None:
    loaded = load_cases("customer_reply")
    assert all(c.expect.intent in set(Intent) for c in loaded)
    assert {c.expect.intent for c in loaded} == set(Intent)


MIN_CASES_PER_LANGUAGE = 8


def test_customer_reply_has_cases_in_every_language_hub_speaks() -> None:
    use_case = "customer_reply"
    loaded = load_cases(use_case)
    per_language = {language: [c for c in loaded if c.expect.language == language] for language in LANGUAGES}
    for language, cases in per_language.items():
        assert len(cases) >= MIN_CASES_PER_LANGUAGE, f"{use_case} has {len(cases)} {language} cases"
    foreign = [c for c in loaded if c.expect.language != DEFAULT_LANGUAGE]
    assert len({c.expect.intent for c in foreign}) >= 8, "the other languages ask more than a few kinds of question"


def test_customer_reply_cases_in_other_languages_cover_the_everyday_questions() -> None:
    everyday = {
        "greeting",
        "product_search",
        "product_question",
        "order_status",
        "returns_refunds",
        "shipping_delivery",
        "complaint",
        "feedback",
    }
    for language in LANGUAGES:
        intents = {c.expect.intent for c in load_cases("customer_reply") if c.expect.language == language}
        assert everyday <= intents, f"{language} lacks {sorted(everyday - intents)}"


def test_customer_reply_uses_every_engagement_tool_and_only_shopper_tools() -> None:
    used = {tool for c in load_cases("customer_reply") for tool in c.expect.tools or []}
    assert ENGAGEMENT_TOOL_NAMES <= used <= ENGAGEMENT_TOOL_NAMES | ORDER_ACTION_TOOL_NAMES
    assert {"start_return", "cancel_order", "change_shipping_address"} <= used, "shoppers act on their orders too"
    assert all(c.expect.tools is not None and "message" in c.input for c in load_cases("customer_reply"))


def test_customer_reply_policy_cases_quote_the_passage_they_expect() -> None:
    policy_cases = [c for c in load_cases("customer_reply") if c.expect.tools == ["policy_answer"]]
    assert policy_cases
    for case in policy_cases:
        assert case.expect.reference_contexts, case.id
        passage = case.expect.reference_contexts[0].casefold()
        assert all(phrase.casefold() in passage for phrase in case.expect.must_include), case.id


def test_crm_sets_name_valid_segments_and_actions() -> None:
    for case in load_cases("crm_customer_summary"):
        assert set(case.expect.fields["segment"]) <= set(CustomerSegment), case.id
    segments = {s for c in load_cases("crm_customer_summary") for s in c.expect.fields["segment"]}
    assert segments == set(CustomerSegment)
    for case in load_cases("next_best_action"):
        assert set(case.expect.fields["action"]) <= set(NextAction), case.id


def test_followup_drafts_name_the_customer_and_a_valid_channel() -> None:
    for case in load_cases("crm_followup_draft"):
        assert case.input["channel"] in ("email", "whatsapp"), case.id
        assert case.expect.must_include, case.id


def test_photo_briefs_expect_valid_counts_and_ratios() -> None:
    for case in load_cases("photo_brief"):
        fields = case.expect.fields
        assert 1 <= fields.get("count", 1) <= 8, case.id
        assert fields.get("aspect", "1:1") in {a.value for a in AspectRatio}, case.id
