"""The one reader of an operator's photo request: the console's /photos and /brief, and draft_photo_brief's fallback."""

from __future__ import annotations

import pytest

from agents.commands import OperatorCommands
from graphs.conversation import ToolOutcome
from hub.prompting.outputs import AspectRatio, PhotoBrief
from tools.context import ToolError
from tools.photography import STUDIO_BACKGROUND, STUDIO_SCENE, brief_from_request, check_photo_brief

SAMPLES: list[tuple[str, int, AspectRatio, str, str]] = [
    # request, count, aspect, background, scene
    (
        "3 lifestyle shots on a marble counter, 4:5",
        3,
        AspectRatio.PORTRAIT_4_5,
        "soft, out-of-focus surroundings that match the scene",
        "lifestyle shots on a marble counter",
    ),
    ("white background, 2 photos", 2, AspectRatio.SQUARE, STUDIO_BACKGROUND, STUDIO_SCENE),
    ("on a white background, 4:5, 2 photos", 2, AspectRatio.PORTRAIT_4_5, STUDIO_BACKGROUND, STUDIO_SCENE),
    ("studio shots on white for the marketplace", 4, AspectRatio.SQUARE, STUDIO_BACKGROUND, STUDIO_SCENE),
    ("five images against a soft pink backdrop, 16x9", 5, AspectRatio.LANDSCAPE_16_9, "soft pink", STUDIO_SCENE),
    ("on black, 1 shot", 1, AspectRatio.SQUARE, "seamless black", STUDIO_SCENE),
    (
        "an instagram story on a beach at sunset",
        4,
        AspectRatio.STORY_9_16,
        "soft, out-of-focus surroundings that match the scene",
        "instagram story on a beach at sunset",
    ),
    ("", 4, AspectRatio.SQUARE, STUDIO_BACKGROUND, STUDIO_SCENE),
]


@pytest.mark.parametrize(("request_text", "count", "aspect", "background", "scene"), SAMPLES, ids=lambda v: str(v))
def test_the_parser_reads_count_aspect_background_and_scene(
    request_text: str, count: int, aspect: AspectRatio, background: str, scene: str
) -> None:
    brief = brief_from_request(request_text)
    assert (brief.count, brief.aspect, brief.background, brief.scene) == (count, aspect, background, scene)
    assert check_photo_brief(brief, request_text) == [], "the fallback brief passes the rules a model's must"


def test_people_are_kept_out_unless_the_request_asks_for_them() -> None:
    assert "people, hands" in brief_from_request("on a marble counter").negative_prompt
    worn = brief_from_request("worn by a model walking in a park, 3:4")
    assert "people" not in worn.negative_prompt and worn.aspect == AspectRatio.PORTRAIT_3_4
    plain = brief_from_request("3 shots on linen, no props")
    assert plain.negative_prompt.endswith("people, hands, props") and "props" not in plain.scene


@pytest.mark.parametrize("request_text", ["12 photos on sand", "0 images", "ten shots"])
def test_a_count_outside_one_to_eight_is_refused_with_the_number(request_text: str) -> None:
    with pytest.raises(ToolError, match=r"1 to 8 images; the request asks for (12|0|10)$"):
        brief_from_request(request_text)


def test_the_rules_name_every_way_a_brief_departs_from_the_request() -> None:
    brief = PhotoBrief(
        scene="a wide 16:9 banner of 6 shots on a wooden table with props",
        background="warm oak",
        aspect=AspectRatio.PORTRAIT_4_5,
        count=4,
        negative_prompt="logos, people",
        style_notes="",
    )
    assert check_photo_brief(brief, "3 shots on a white background worn by a model, 4:5, no props") == [
        "the request asks for 3 images: set count to 3",
        "the brief mentions '16:9' but aspect is '4:5': keep one ratio",
        "the brief mentions '6 shots' but count is 4: keep one number",
        "the request asks for a seamless pure white background; background must say 'white'",
        "negative_prompt must include text, watermark",
        "the request asks for people in the shot: remove 'people' from negative_prompt",
        "the request says no props: add 'props' to negative_prompt",
        "the request says no props, but the scene has props",
    ]


# --- the console commands that share the parser ---------------------------------------------------


def test_photos_plans_request_photos_with_the_shared_parsers_brief() -> None:
    plan = OperatorCommands().plan("/photos sku-1001 3 lifestyle shots on a marble counter, 4:5")
    [call] = plan.calls
    brief = brief_from_request("3 lifestyle shots on a marble counter, 4:5")
    assert call.tool == "request_photos" and call.args == {"sku": "SKU-1001", **brief.model_dump(mode="json")}
    refused = OperatorCommands().plan("/photos SKU-1001 10 photos")
    assert refused.calls == [] and refused.reply.startswith("a shoot makes 1 to 8 images; the request asks for 10")


def test_brief_plans_draft_photo_brief_with_the_operators_words() -> None:
    plan = OperatorCommands().plan("/brief SKU-1001 3 lifestyle shots on a marble counter, 4:5")
    assert [(c.tool, c.args) for c in plan.calls] == [
        ("draft_photo_brief", {"sku": "SKU-1001", "request": "3 lifestyle shots on a marble counter, 4:5"})
    ]
    assert OperatorCommands().plan("/brief SKU-1001").reply.startswith("I need what the photos should show")
    assert OperatorCommands().plan("/brief marble counter").reply.startswith("I need a SKU")


def test_a_brief_reads_as_a_checklist_and_says_nothing_is_queued() -> None:
    brief = brief_from_request("3 lifestyle shots on a marble counter, 4:5")
    text = OperatorCommands().compose(
        [
            ToolOutcome(
                tool="draft_photo_brief",
                args={},
                status="ok",
                result={**brief.model_dump(mode="json"), "sku": "SKU-1001", "engine": "deterministic"},
            )
        ]
    )
    assert text.splitlines()[:4] == [
        "Photo brief for SKU-1001 (read from your words; nothing is queued yet):",
        "Scene: lifestyle shots on a marble counter",
        "Background: soft, out-of-focus surroundings that match the scene",
        "3 image(s) at 4:5",
    ]


def test_help_lists_every_command() -> None:
    help_text = OperatorCommands().help()
    for usage in ("/summary customer", "/profile customer", "/brief SKU", "/photos SKU", "/job job-id"):
        assert f"`{usage}" in help_text, usage
