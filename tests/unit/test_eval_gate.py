"""The eval gate: a worse prompt version is rejected (by the gate and by `hub prompts pin`), an equal one passes.

Runs go through the real gateway, tools and validators on the demo fixture; the simulated model answers the
way a capable model does when the prompt tells it the rules, and makes the matching mistake when it does not.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from typer.testing import CliRunner

from evals.cases import load_cases
from evals.gate import Baseline
from evals.llm_server import ScriptedLLMServer, reply, respond
from evals.runner import RunSpec, judge, run_suite
from hub.db import models as m
from hub.prompting.registry import PromptRegistry, default_prompts_dir
from hub.settings import Settings, get_settings
from hub.tenancy import admin
from service.cli.common import with_session
from service.cli.evals import eval_app
from service.cli.prompts import prompts_app

CASES = 6


@pytest.fixture
def prompts_dir(tmp_path: Path) -> Path:
    root = Path(shutil.copytree(default_prompts_dir(), tmp_path / "prompts"))
    registry = PromptRegistry.load(root)
    registry.new_version("seo_product_copy", "patch", "Same words, new number.")  # 1.0.1: equal
    worse = registry.new_version("seo_product_copy", "patch", "Shorter rules.")  # 1.0.2: no grounding rule
    text = worse.read_text()
    worse.write_text("\n".join(line for line in text.splitlines() if "Never invent" not in line) + "\n")
    off = registry.new_version("seo_product_copy", "patch", "No schema.")  # 1.0.3: never shows the schema
    off.write_text(off.read_text().replace("{{ output_schema }}", "the usual fields"))
    return root


@pytest.fixture
def settings(tmp_path: Path, prompts_dir: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", prompts_dir=prompts_dir)


async def sim_run(settings: Settings, version: str) -> Any:
    return await run_suite(settings, RunSpec("seo_product_copy", prompt_version=version, sim=True, limit=CASES))


async def test_the_gate_rejects_a_version_that_drops_grounding_or_its_schema_and_passes_an_equal_one(
    settings: Settings,
) -> None:
    released = await sim_run(settings, "1.0.0")
    baseline = Baseline.of("seo_product_copy", "1.0.0", released.golden_sha256, released.metrics)
    assert released.metrics["fallback"] == 0.0 and released.metrics["rules_pass"] == 1.0

    equal = judge(await sim_run(settings, "1.0.1"), baseline)
    assert equal.passed, equal.verdict

    ungrounded = judge(await sim_run(settings, "1.0.2"), baseline)
    assert not ungrounded.passed
    assert ungrounded.metrics["fallback"] == 1.0 and ungrounded.metrics["rules_pass"] == 0.0
    assert any(reason.startswith("cost_usd") for reason in ungrounded.verdict), "re-asks cost more"
    waterproof = [c for c in ungrounded.per_case if "Waterproof" in " ".join(c["problems"]) or c["engine"] != "llm"]
    assert len(waterproof) == CASES, "every invented claim was caught and replaced by the deterministic copy"

    off_schema = judge(await sim_run(settings, "1.0.3"), baseline)
    assert not off_schema.passed and off_schema.metrics["schema_valid"] == 0.0
    assert "schema_valid 0.000 is below the floor 0.950" in off_schema.verdict


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    for name in ("HUB_DATABASE_URL", "HUB_REDIS_URL", "HUB_LLM_BASE_URL", "HUB_LLM_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HUB_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("HUB_PROMPTS_DIR", str(settings.prompts_dir))
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def test_pin_needs_a_passing_eval_run_for_the_tenant_or_an_audited_force(cli_env: Settings) -> None:
    with_session(cli_env, lambda s: admin.create_tenant(s, name="Acme Outdoor"))
    registry = PromptRegistry.load(cli_env.prompts_dir)
    for version in ("1.0.1", "1.0.2"):
        registry.release("seo_product_copy", version)
    runner = CliRunner()

    def pin(version: str, *extra: str) -> Any:
        args = ["--dir", str(cli_env.prompts_dir), "pin", "seo_product_copy", version, "--tenant", "acme-outdoor"]
        return runner.invoke(prompts_app, [*args, *extra])

    refused = pin("1.0.1")
    assert refused.exit_code == 1 and "has no passing eval run for tenant acme-outdoor" in refused.stderr

    def evaluate(version: str, *limit: str) -> dict[str, Any]:
        args = ["run", "-u", "seo_product_copy", "--prompt-version", version, "--tenant", "acme-outdoor"]
        result = runner.invoke(eval_app, [*args, "--sim", *limit, "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout.strip().splitlines()[-1])[0]

    partial = evaluate("1.0.1", "--limit", "1")
    assert partial["passed"], partial["verdict"]
    still_partial = pin("1.0.1")
    assert still_partial.exit_code == 1, "a run of one case is no evidence for the whole golden set"
    golden = len(load_cases("seo_product_copy"))
    assert f"ran 1 of {golden} cases" in still_partial.stderr and "--force REASON" in still_partial.stderr

    good = evaluate("1.0.1")
    assert good["passed"] and good["mode"] == "sim", good["verdict"]
    report = Path(good["report"]) / "report.html"
    assert "<svg" in report.read_text() and "PASS" in report.read_text()
    assert pin("1.0.1").exit_code == 0

    bad = evaluate("1.0.2", "--limit", str(CASES))
    assert not bad["passed"] and bad["metrics"]["fallback"] == 1.0
    wide = {"COLUMNS": "200"}
    listed = runner.invoke(eval_app, ["history", "-u", "seo_product_copy", "--tenant", "acme-outdoor"], env=wide)
    assert listed.exit_code == 0 and "seo_product_copy@1.0.2" in listed.stdout and "FAIL" in listed.stdout
    compared = runner.invoke(eval_app, ["compare", good["id"][:8], bad["id"]], env=wide)
    assert compared.exit_code == 0, compared.output
    assert "fallback" in compared.stdout and "cases whose scores changed" in compared.stdout

    still_refused = pin("1.0.2")
    assert still_refused.exit_code == 1, "a failing run is no evidence"
    forced = pin("1.0.2", "--force", "hotfix approved by QA lead")
    assert forced.exit_code == 0, forced.output

    async def audit(session: Any) -> list[tuple[str, dict[str, Any]]]:
        rows = await session.execute(
            select(m.AuditEvent.action, m.AuditEvent.data).where(m.AuditEvent.action.like("prompt.pinned%"))
        )
        return [(a, d) for a, d in rows]

    events = with_session(cli_env, audit)
    assert [a for a, _ in events] == ["prompt.pinned", "prompt.pinned_without_eval"]
    assert events[0][1]["eval_run"] == good["id"] and events[1][1]["forced"] == "hotfix approved by QA lead"


async def test_a_configured_model_is_graded_by_the_judge_prompt(tmp_path: Path) -> None:
    judged: list[str] = []

    def model(body: dict[str, Any]) -> Any:
        if body.get("tools"):  # the shopper agent: answer without tools
            return reply("Hi! How can I help you today?")
        judged.append(body["messages"][-1]["content"])
        verdict = {"grounded": True, "score": 0.8, "issues": [], "verdict": "pass"}
        return reply(json.dumps(verdict))

    with ScriptedLLMServer(default=respond(model, with_body=True)) as server:
        settings = Settings(
            data_dir=tmp_path / "data", llm_base_url=server.base_url, llm_api_key=SecretStr("k"), llm_model="judge-me"
        )
        result = await run_suite(settings, RunSpec("customer_reply", limit=2))
    assert result.mode == "llm" and result.model == "judge-me"
    assert result.metrics["judge_score"] == pytest.approx(0.8) and result.metrics["judge_grounded"] == 1.0
    graded = [text for text in judged if "<reply>" in text]  # reply_judge; the rest are ragas' judged metrics
    assert len(graded) == 2 and "Hi! How can I help you today?" in graded[0]
