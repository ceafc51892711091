"""Prompts as code: exact versions, immutable released files, explicit pins, strict rendering, output schemas."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from typer.testing import CliRunner

from hub.db import models as m
from hub.prompting.outputs import OUTPUT_SCHEMAS, IntentRoute, SeoProductCopy
from hub.prompting.registry import LOCK_FILE, Prompt, PromptError, PromptRegistry, default_prompts_dir
from hub.settings import Settings, get_settings
from hub.tenancy import admin
from service.cli.common import with_session
from service.cli.prompts import prompts_app

SHIPPED = PromptRegistry.load(default_prompts_dir())

PRODUCT = json.dumps(
    {
        "sku": "TR-220-BL",
        "name": "Ridgeline Merino Hiking Socks",
        "category": "socks",
        "price": "18.00 USD",
        "attributes": {"material": "70% merino wool", "colours": ["blue", "grey"], "sizes": ["S", "M", "L"]},
        "description": "Cushioned merino socks for long days on the trail.",
    }
)
CUSTOMER = json.dumps({"name": "Jane Doe", "email": "jane@example.com", "customer_since": "2024-03-02"})
ORDERS = json.dumps([{"order_number": "A-10423", "status": "shipped", "total": "54.00 USD", "placed": "2026-11-20"}])
TOOL_RESULTS = json.dumps([{"tool": "order_status", "result": {"order_id": "A-10423", "status": "shipped"}}])

EXAMPLE_VARIABLES: dict[str, dict[str, Any]] = {
    "customer_reply": {
        "shop_name": "Trailhead Outfitters",
        "brand_tone": "friendly and concise",
        "voice_examples": ["Happy trails!"],
        "channel": "whatsapp",
        "today": "2026-11-25",
        "policies": "Returns are accepted within 30 days of delivery.",
        "tool_results": TOOL_RESULTS,
        "history": "customer: hi\nassistant: Hello! How can I help?",
        "message": "Where is my order A-10423?",
    },
    "intent_route": {"history": "", "message": "Where is my order A-10423? jane@example.com"},
    "crm_customer_summary": {
        "shop_name": "Trailhead Outfitters",
        "today": "2026-11-25",
        "currency": "USD",
        "customer": CUSTOMER,
        "orders": ORDERS,
        "conversations": "",
    },
    "crm_followup_draft": {
        "shop_name": "Trailhead Outfitters",
        "brand_tone": "warm",
        "channel": "email",
        "sender_name": "Sam",
        "today": "2026-11-25",
        "purpose": "Check the socks arrived and fit well.",
        "customer": CUSTOMER,
        "context": ORDERS,
    },
    "next_best_action": {
        "shop_name": "Trailhead Outfitters",
        "today": "2026-11-25",
        "customer": CUSTOMER,
        "orders": ORDERS,
        "conversations": "customer (2026-11-21): when will it ship?",
    },
    "seo_product_copy": {
        "shop_name": "Trailhead Outfitters",
        "brand_tone": "outdoorsy and honest",
        "language": "English",
        "product": PRODUCT,
        "target_keywords": "merino hiking socks",
    },
    "photo_brief": {
        "shop_name": "Trailhead Outfitters",
        "brand_tone": "outdoorsy and honest",
        "brand_colours": "#1F2937 slate and #F59E0B amber",
        "product": PRODUCT,
        "request": "studio shots on white, 3 images",
    },
    "reply_judge": {
        "policies": "Returns are accepted within 30 days of delivery.",
        "tool_results": TOOL_RESULTS,
        "history": "",
        "message": "Where is my order A-10423?",
        "reply": "Your order A-10423 has shipped.",
    },
}


AGENT_VARIABLES = {
    "shop_name": "Trailhead Outfitters",
    "brand_tone": "friendly and concise",
    "voice_examples": ["Happy trails!"],
    "channel": "whatsapp",
    "today": "2026-11-25",
    "operator": "Ola Operator",
    "reply_language": "Spanish",
    "message": "Where is my order A-10423?",
}
"""What the conversation graph passes to every agent prompt (output: null)."""


def example_variables(prompt: Prompt) -> dict[str, Any]:
    if prompt.kind == "agent":
        return AGENT_VARIABLES
    return {**EXAMPLE_VARIABLES[prompt.use_case], "output_schema": prompt.output_json_schema()}


@pytest.fixture
def prompts_dir(tmp_path: Path) -> Path:
    """A writable copy of the shipped prompts folder."""
    return Path(shutil.copytree(default_prompts_dir(), tmp_path / "prompts"))


def all_shipped() -> Iterator[Prompt]:
    for use_case in SHIPPED.use_cases():
        for version in SHIPPED.versions(use_case):
            yield SHIPPED.get(use_case, version, allow_drafts=True)


@pytest.mark.parametrize("prompt", list(all_shipped()), ids=lambda p: p.ref)
def test_every_shipped_prompt_loads_and_renders_with_example_variables(prompt: Prompt) -> None:
    messages = prompt.render(example_variables(prompt))
    assert [msg["role"] for msg in messages] == ["system", "user"]
    assert all(msg["content"] and "{{" not in msg["content"] and "{%" not in msg["content"] for msg in messages)
    if prompt.kind == "agent":
        assert "output_schema" not in prompt.variables and prompt.variables <= set(AGENT_VARIABLES)
        assert AGENT_VARIABLES["message"] in messages[1]["content"], "the user section carries the latest message"
        return
    assert prompt.output is not None and prompt.output_model is OUTPUT_SCHEMAS[prompt.output]
    assert "output_schema" in prompt.variables, "the model must be shown the schema it has to satisfy"
    assert prompt.output_json_schema() in messages[0]["content"] + messages[1]["content"]


def test_an_agent_prompt_has_no_schema_and_cannot_be_pinned_where_a_json_prompt_is_expected(prompts_dir: Path) -> None:
    agent = SHIPPED.get("customer_reply", "2.0.0")
    assert agent.kind == "agent" and agent.output_model is None
    with pytest.raises(PromptError, match="agent prompt"):
        agent.output_json_schema()
    with pytest.raises(
        PromptError,
        match=r"customer_reply@1\.0\.0 answers with JSON output 'customer_reply'.*expecting plain text and tool calls",
    ):
        SHIPPED.check_pins({"customer_reply": "1.0.0"})
    SHIPPED.check_pins({"customer_reply": "2.0.0", "operator_agent": "1.0.0"})


def test_released_prompt_files_are_unchanged() -> None:
    """The CI check: a released prompt file never changes; change it in a new version instead."""
    root = default_prompts_dir()
    lock = json.loads((root / LOCK_FILE).read_text())
    changed = []
    for ref, recorded in lock.items():
        use_case, version = ref.split("@")
        path = root / use_case / f"{version}.md"
        actual = hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "missing"
        if actual != recorded:
            changed.append(f"{path.relative_to(root.parent)} ({actual})")
    assert changed == [], "released prompts are immutable; use `hub prompts new`: " + ", ".join(changed)
    released = {p.ref for p in all_shipped() if p.released}
    assert released == set(lock)


def test_lock_is_sorted_and_stable() -> None:
    text = (default_prompts_dir() / LOCK_FILE).read_text()
    assert list(json.loads(text)) == sorted(json.loads(text))
    assert text == json.dumps(json.loads(text), indent=2) + "\n"


def test_a_modified_released_file_stops_loading_and_names_the_file(prompts_dir: Path) -> None:
    path = prompts_dir / "customer_reply" / "1.0.0.md"
    path.write_text(path.read_text().replace("Grounding", "Grounding!"))
    with pytest.raises(
        PromptError, match=r"prompts/customer_reply/1\.0\.0\.md: released prompt customer_reply@1\.0\.0 has changed"
    ):
        PromptRegistry.load(prompts_dir)


def test_drafts_are_refused_unless_allowed(prompts_dir: Path) -> None:
    registry = PromptRegistry.load(prompts_dir)
    registry.new_version("intent_route", "minor", "Tighter complaint rule.")
    registry = PromptRegistry.load(prompts_dir)
    assert registry.versions("intent_route") == ["1.0.0", "1.1.0"]
    with pytest.raises(PromptError, match=r"intent_route@1\.1\.0 is a draft"):
        registry.get("intent_route", "1.1.0")
    assert registry.get("intent_route", "1.1.0", allow_drafts=True).released is False
    with pytest.raises(PromptError, match=r"intent_route@1\.1\.0 is a draft"):
        registry.resolve("intent_route", {"intent_route": "1.1.0"})


def test_default_pins_cover_every_use_case_and_never_resolve_latest(prompts_dir: Path) -> None:
    assert set(SHIPPED.default_pins()) == set(SHIPPED.use_cases())
    structured = {u for u in SHIPPED.use_cases() if SHIPPED.resolve(u, {}).kind == "structured"}
    assert structured == set(OUTPUT_SCHEMAS) - {"customer_reply"}  # its 2.x is the tool-calling agent
    registry = PromptRegistry.load(prompts_dir)
    registry.new_version("customer_reply", "major", "A newer version nobody pinned.")
    registry.release("customer_reply", "3.0.0")
    registry = PromptRegistry.load(prompts_dir)
    assert registry.resolve("customer_reply", {}).version == registry.default_pins()["customer_reply"] == "2.2.0"
    for use_case in registry.use_cases():
        assert registry.resolve(use_case, {}).version == registry.default_pins()[use_case]
    with pytest.raises(PromptError, match="never resolves 'latest'"):
        registry.get("customer_reply", "latest")


def test_a_default_pin_on_a_draft_or_a_missing_pin_stops_loading(prompts_dir: Path) -> None:
    registry = PromptRegistry.load(prompts_dir)
    registry.new_version("photo_brief", "patch", "Draft.")
    pins = prompts_dir / "pins.toml"
    pins.write_text(pins.read_text().replace('photo_brief = "1.0.0"', 'photo_brief = "1.0.1"'))
    with pytest.raises(PromptError, match=r"prompts/pins\.toml: default pin photo_brief = '1\.0\.1' names a draft"):
        PromptRegistry.load(prompts_dir)
    pins.write_text(pins.read_text().replace('photo_brief = "1.0.1"\n', ""))
    with pytest.raises(PromptError, match=r"prompts/pins\.toml: no default pin for photo_brief"):
        PromptRegistry.load(prompts_dir)


def test_a_tenant_pin_overrides_the_default(prompts_dir: Path) -> None:
    registry = PromptRegistry.load(prompts_dir)
    registry.new_version("seo_product_copy", "minor", "Shorter descriptions.")
    registry.release("seo_product_copy", "1.1.0")
    assert registry.resolve("seo_product_copy", {"seo_product_copy": "1.1.0"}).ref == "seo_product_copy@1.1.0"
    assert registry.resolve("seo_product_copy", {"customer_reply": "1.0.0"}).ref == "seo_product_copy@1.0.0"


def test_a_bad_pin_is_named_in_the_error() -> None:
    with pytest.raises(
        PromptError, match=r"prompt pin customer_reply='9\.9\.9': unknown prompt version customer_reply@9\.9\.9"
    ):
        SHIPPED.check_pins({"customer_reply": "9.9.9", "intent_route": "1.0.0"})
    with pytest.raises(PromptError, match=r"prompt pin customer_reply='latest'"):
        SHIPPED.resolve("customer_reply", {"customer_reply": "latest"})
    with pytest.raises(PromptError, match=r"prompt pin no_such_use_case='1\.0\.0': unknown prompt use case"):
        SHIPPED.check_pins({"no_such_use_case": "1.0.0"})
    SHIPPED.check_pins(SHIPPED.default_pins())


def test_a_missing_template_variable_is_named_in_the_error() -> None:
    prompt = SHIPPED.get("customer_reply", "1.0.0")
    variables = example_variables(prompt)
    del variables["brand_tone"]
    with pytest.raises(PromptError, match=r"prompt customer_reply@1\.0\.0 .*missing variable 'brand_tone'"):
        prompt.render(variables)


def test_channel_changes_the_customer_reply_instructions() -> None:
    prompt = SHIPPED.get("customer_reply", "1.0.0")
    whatsapp = prompt.render({**example_variables(prompt), "channel": "whatsapp"})[0]["content"]
    web = prompt.render({**example_variables(prompt), "channel": "web"})[0]["content"]
    assert "This is WhatsApp" in whatsapp and "This is WhatsApp" not in web


def test_the_customer_reply_in_use_names_the_language_the_shop_answers_in() -> None:
    prompt = SHIPPED.resolve("customer_reply", {})
    system = prompt.render({**AGENT_VARIABLES, "reply_language": "German"})[0]["content"]
    assert "Reply in German" in system and "latest message" not in system


def test_new_version_release_and_diff_workflow(prompts_dir: Path) -> None:
    registry = PromptRegistry.load(prompts_dir)
    path = registry.new_version("reply_judge", "patch", "Quote the faulty claim in every issue.")
    assert path == prompts_dir / "reply_judge" / "1.0.1.md"
    draft_diff = registry.diff("reply_judge", "1.0.0", "1.0.1")
    changed = [line for line in draft_diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert changed == [
        "-version: 1.0.0",
        "+version: 1.0.1",
        "-changelog: Initial release. Grounding-first grader for customer replies.",
        "+changelog: Quote the faulty claim in every issue.",
    ]
    path.write_text(path.read_text().replace("You are strict about facts", "You are very strict about facts"))
    edited = registry.diff("reply_judge", "1.0.0", "1.0.1").splitlines()
    assert any(line.startswith("+") and "You are very strict about facts" in line for line in edited)

    released = registry.release("reply_judge", "1.0.1")
    lock = json.loads((prompts_dir / LOCK_FILE).read_text())
    assert lock["reply_judge@1.0.1"] == released.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert list(lock) == sorted(lock)
    assert registry.release("reply_judge", "1.0.1") == released
    reloaded = PromptRegistry.load(prompts_dir)
    assert reloaded.get("reply_judge", "1.0.1").released

    path.write_text(path.read_text() + "\nOne more line.\n")
    with pytest.raises(PromptError, match="already released"):
        reloaded.release("reply_judge", "1.0.1")
    with pytest.raises(
        PromptError, match=r"prompts/reply_judge/1\.0\.1\.md: released prompt reply_judge@1\.0\.1 has changed"
    ):
        PromptRegistry.load(prompts_dir)


def test_new_version_counts_from_the_highest_version(prompts_dir: Path) -> None:
    registry = PromptRegistry.load(prompts_dir)
    registry.new_version("photo_brief", "minor", "Draft one.")
    assert registry.new_version("photo_brief", "patch", "Draft two.").name == "1.1.1.md"
    assert registry.new_version("photo_brief", "major", "Draft three.").name == "2.0.0.md"
    with pytest.raises(PromptError, match="needs a changelog"):
        registry.new_version("photo_brief", "minor", " ")


def replace_in(path: str, old: str, new: str) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        target = root / path
        text = target.read_text()
        assert old in text
        target.write_text(text.replace(old, new, 1))

    return mutate


def add_draft(path: str, text: str) -> Callable[[Path], None]:
    return lambda root: (root / path).write_text(text)


DRAFT = (default_prompts_dir() / "intent_route" / "1.0.0.md").read_text().replace("1.0.0", "1.0.1")


@pytest.mark.parametrize(
    ("mutate", "error"),
    [
        (
            add_draft("intent_route/1.0.1.md", DRAFT.replace("id: intent_route", "id: intent")),
            r"intent_route/1\.0\.1\.md: id 'intent' does not match its folder",
        ),
        (
            add_draft("intent_route/1.0.1.md", DRAFT.replace("version: 1.0.1", "version: 1.0.2")),
            r"intent_route/1\.0\.1\.md: version '1\.0\.2' does not match the file name",
        ),
        (
            add_draft("intent_route/1.0.1.md", DRAFT.replace("output: intent_route", "output: intents")),
            r"intent_route/1\.0\.1\.md: unknown output schema 'intents'",
        ),
        (
            add_draft("intent_route/1.0.1.md", DRAFT.replace("{{ message }}", "{{ message }")),
            r"intent_route/1\.0\.1\.md: template syntax error at line \d+",
        ),
        (
            add_draft("intent_route/1.0.1.md", DRAFT.replace("temperature: 0.0", "temprature: 0.0")),
            r"intent_route/1\.0\.1\.md: bad front matter: params\.temprature",
        ),
        (
            add_draft("intent_route/1.0.1.md", DRAFT.replace("model: null\n", "")),
            r"intent_route/1\.0\.1\.md: bad front matter: model: Field required",
        ),
        (
            add_draft("intent_route/1.0.1.md", DRAFT.replace("params:", "params: [")),
            r"intent_route/1\.0\.1\.md: front matter is not valid YAML",
        ),
        (
            add_draft("intent_route/1.0.1.md", DRAFT.replace("## user\n", "")),
            r"intent_route/1\.0\.1\.md: the body must have one `## system` line followed by one `## user` line",
        ),
        (
            add_draft("intent_route/1.0.md", DRAFT),
            r"intent_route/1\.0\.md: a prompt file is named <MAJOR\.MINOR\.PATCH>\.md",
        ),
        (
            add_draft("intent_route/1.0.1.md", DRAFT.split("---", 2)[2]),
            r"intent_route/1\.0\.1\.md: must start with a `---` line",
        ),
        (
            replace_in(LOCK_FILE, '"intent_route@1.0.0"', '"intent_route@0.9.0"'),
            r"released prompt intent_route@0\.9\.0 has no file",
        ),
    ],
    ids=[
        "id",
        "version",
        "output",
        "syntax",
        "param-typo",
        "missing-key",
        "yaml",
        "sections",
        "file-name",
        "no-front-matter",
        "lock-without-file",
    ],
)
def test_a_broken_prompt_folder_stops_loading_naming_the_file_and_problem(
    prompts_dir: Path, mutate: Callable[[Path], None], error: str
) -> None:
    mutate(prompts_dir)
    with pytest.raises(PromptError, match=error):
        PromptRegistry.load(prompts_dir)


def test_template_syntax_errors_point_at_the_file_line(prompts_dir: Path) -> None:
    lines = DRAFT.splitlines()
    broken = next(i for i, line in enumerate(lines) if "{{ message }}" in line)
    lines[broken] = "{{ message }"
    (prompts_dir / "intent_route" / "1.0.1.md").write_text("\n".join(lines) + "\n")
    with pytest.raises(PromptError, match=rf"template syntax error at line {broken + 1}:"):
        PromptRegistry.load(prompts_dir)


def test_output_schemas_reject_a_long_seo_title_and_an_unknown_intent() -> None:
    copy = {
        "title": "Merino Hiking Socks with Cushioned Sole",
        "meta_description": "Cushioned merino hiking socks that stay warm when wet and dry fast. Pick your size and hit the trail.",
        "slug": "merino-hiking-socks",
        "primary_keyword": "merino hiking socks",
        "keywords": ["merino hiking socks", "wool hiking socks", "cushioned trail socks"],
        "image_alt_text": "Blue merino hiking socks laid flat",
        "description": "Cushioned merino socks for long days on the trail, in blue and grey, sizes S to L.",
    }
    SeoProductCopy.model_validate(copy)
    with pytest.raises(ValidationError, match="title"):
        SeoProductCopy.model_validate({**copy, "title": "x" * 61})
    with pytest.raises(ValidationError, match="slug"):
        SeoProductCopy.model_validate({**copy, "slug": "Merino Socks"})
    assert IntentRoute.model_validate({"intent": "order_status", "confidence": 0.9}).intent == "order_status"
    with pytest.raises(ValidationError, match="intent"):
        IntentRoute.model_validate({"intent": "refund_please", "confidence": 0.9})


# --- `hub prompts` -------------------------------------------------------------------------------


@pytest.fixture
def cli_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    for name in ("HUB_DATABASE_URL", "HUB_REDIS_URL", "HUB_LLM_BASE_URL", "HUB_LLM_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def prompts(*args: str, root: Path) -> Any:
    return CliRunner().invoke(prompts_app, ["--dir", str(root), *args])


def test_cli_lists_shows_and_diffs_prompts(prompts_dir: Path) -> None:
    PromptRegistry.load(prompts_dir).new_version("seo_product_copy", "minor", "Warmer handoff wording.")
    listed = prompts("list", root=prompts_dir)
    assert listed.exit_code == 0, listed.output
    assert any(
        line.split()[:2] == ["seo_product_copy", "1.0.0"] and line.endswith("1.0.0, 1.1.0 (draft)")
        for line in listed.stdout.splitlines()
    )
    as_json = json.loads(prompts("list", "--json", root=prompts_dir).stdout)
    assert {row["use_case"]: row["default"] for row in as_json} == SHIPPED.default_pins()

    shown = prompts("show", "seo_product_copy", "1.0.0", root=prompts_dir)
    assert shown.stdout == (prompts_dir / "seo_product_copy" / "1.0.0.md").read_text()
    assert "released" in shown.stderr

    diffed = prompts("diff", "seo_product_copy", "1.0.0", "1.1.0", root=prompts_dir)
    assert "+changelog: Warmer handoff wording." in diffed.stdout

    unknown = prompts("show", "seo_product_copy", "3.0.0", root=prompts_dir)
    assert unknown.exit_code == 1 and "unknown prompt version seo_product_copy@3.0.0" in unknown.stderr


def test_cli_new_then_release(prompts_dir: Path) -> None:
    created = prompts("new", "intent_route", "--bump", "minor", "--changelog", "Split complaints.", root=prompts_dir)
    assert created.exit_code == 0, created.output
    assert created.stdout.strip() == f"created draft {prompts_dir / 'intent_route' / '1.1.0.md'}"
    released = prompts("release", "intent_route", "1.1.0", root=prompts_dir)
    assert released.exit_code == 0 and released.stdout.startswith("released intent_route@1.1.0 (sha256 ")
    assert "intent_route@1.1.0" in json.loads((prompts_dir / LOCK_FILE).read_text())
    bad_bump = prompts("new", "intent_route", "--bump", "huge", "--changelog", "x", root=prompts_dir)
    assert bad_bump.exit_code == 2


def test_cli_pins_a_tenant_and_audits_it(prompts_dir: Path, cli_settings: Settings) -> None:
    with_session(cli_settings, lambda s: admin.create_tenant(s, name="Acme Outdoor"))
    registry = PromptRegistry.load(prompts_dir)
    registry.new_version("seo_product_copy", "minor", "Warmer handoff wording.")

    draft = prompts("pin", "seo_product_copy", "1.1.0", "--tenant", "acme-outdoor", root=prompts_dir)
    assert draft.exit_code == 1 and len(draft.stderr.strip().splitlines()) == 1
    assert "seo_product_copy@1.1.0 is a draft" in draft.stderr
    unknown = prompts("pin", "seo_product_copy", "7.0.0", "--tenant", "acme-outdoor", root=prompts_dir)
    assert unknown.exit_code == 1 and "prompt pin seo_product_copy='7.0.0'" in unknown.stderr
    no_tenant = prompts("pin", "seo_product_copy", "1.0.0", "--tenant", "nope", root=prompts_dir)
    assert no_tenant.exit_code == 1 and no_tenant.stderr.strip() == "error: unknown tenant 'nope'"

    registry.release("seo_product_copy", "1.1.0")
    pinned = prompts(
        "pin", "seo_product_copy", "1.1.0", "--tenant", "acme-outdoor", "--force", "no eval yet", root=prompts_dir
    )
    assert pinned.exit_code == 0, pinned.output
    assert pinned.stdout.strip() == "pinned tenant acme-outdoor to seo_product_copy@1.1.0 (was the default pin)"
    again = prompts("pin", "seo_product_copy", "1.1.0", "--tenant", "acme-outdoor", root=prompts_dir)
    assert again.stdout.strip() == "tenant acme-outdoor is already pinned to seo_product_copy@1.1.0"

    async def read(session: Any) -> tuple[dict[str, str], list[m.AuditEvent]]:
        tenant = await admin.resolve_tenant(session, "acme-outdoor")
        action = m.AuditEvent.action == "prompt.pinned_without_eval"
        events = (await session.execute(select(m.AuditEvent).where(action))).scalars()
        return tenant.settings["prompt_pins"], list(events)

    pins, events = with_session(cli_settings, read)
    assert pins == {"seo_product_copy": "1.1.0"}
    assert PromptRegistry.load(prompts_dir).resolve("seo_product_copy", pins).version == "1.1.0"
    assert [(e.subject, e.data["previous"], e.actor, e.data["forced"]) for e in events] == [
        ("seo_product_copy@1.1.0", None, "cli", "no eval yet")
    ]
