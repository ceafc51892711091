"""A use case's eval is current only for the prompt × model pair it ran on: a new model snapshot for one feature
makes exactly that use case stale, `hub status` and the console say so, and `hub eval run --stale` runs it alone."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from chat_ui.console_commands import status_markdown
from evals.cases import USE_CASES, golden_hashes, load_cases
from evals.llm_server import ScriptedLLMServer, reply
from hub.db import models as m
from hub.eval_coverage import DEFAULTS, EvalCoverage, eval_coverage, stale
from hub.gateway.config import GatewayConfig
from hub.prompting.registry import default_prompts_dir, load_prompts
from hub.settings import Settings, get_settings
from hub.status import platform_status
from hub.tenancy import admin
from hub.tenancy.config import TenantConfig
from hub.tenancy.pins import serving_model
from service.cli.common import with_session
from service.cli.evals import eval_app
from service.cli.ops import render_eval_coverage

NEW_SNAPSHOT = "model-a-2026-12-01"


def configured(tmp_path: Path, **more: Any) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        llm_base_url="http://127.0.0.1:9/v1",
        llm_api_key=SecretStr("k"),
        llm_model="model-a",
        **more,
    )


def record_runs(settings: Settings, *, cases: int | None = None, sha: str | None = None, mode: str = "llm") -> None:
    """A complete llm run of every use case's default version on the model `settings` serve it with."""
    prompts = load_prompts(settings)
    config = GatewayConfig.from_settings(settings)

    async def work(session: AsyncSession) -> None:
        now = datetime.now(UTC)
        for use_case, digest in golden_hashes().items():
            prompt = prompts.resolve(use_case, {})
            golden = len(load_cases(use_case))
            session.add(
                m.EvalRun(
                    id=uuid.uuid4(),
                    started_at=now,
                    finished_at=now,
                    use_case=use_case,
                    prompt_version=prompt.version,
                    mode=mode,
                    model=serving_model(config, prompt),
                    golden_sha256=sha or digest,
                    cases=golden if cases is None else cases,
                    golden_cases=golden,
                    metrics={},
                    per_case=[],
                    passed=True,
                    verdict=[],
                    report_dir="",
                )
            )

    with_session(settings, work)


def coverage(settings: Settings, tenant_id: uuid.UUID | None = None) -> list[EvalCoverage]:
    prompts = load_prompts(settings)
    return with_session(settings, lambda s: eval_coverage(s, settings, prompts, golden_hashes(), tenant_id))


def test_a_new_snapshot_for_one_feature_makes_exactly_that_use_case_stale(tmp_path: Path) -> None:
    before = configured(tmp_path)
    assert len(stale(coverage(before))) == len(USE_CASES), "no run yet: every pair is stale"
    record_runs(before)
    pairs = coverage(before)
    assert {p.use_case for p in pairs} == set(USE_CASES) and "intent_route" not in USE_CASES
    assert stale(pairs) == [] and all(p.used_by == [DEFAULTS] and p.passed for p in pairs)

    after = configured(tmp_path, llm_models={"customer_reply": [NEW_SNAPSHOT, "model-a"]})
    [missing] = stale(coverage(after))
    assert (missing.use_case, missing.model, missing.run_id) == ("customer_reply", NEW_SNAPSHOT, None)
    assert missing.prompt_version == load_prompts(after).resolve("customer_reply", {}).version


def test_partial_runs_old_golden_sets_and_simulated_runs_are_not_current(tmp_path: Path) -> None:
    settings = configured(tmp_path)
    record_runs(settings, cases=1)
    record_runs(settings, sha="0" * 64)
    record_runs(settings, mode="sim")
    assert len(stale(coverage(settings))) == len(USE_CASES)
    assert coverage(Settings(data_dir=tmp_path / "data")) == [], "no model configured: nothing to evaluate on"


def test_a_shops_own_pin_is_a_pair_of_its_own(tmp_path: Path) -> None:
    settings = configured(tmp_path)
    record_runs(settings)
    released = load_prompts(settings).versions("customer_reply")
    default = load_prompts(settings).resolve("customer_reply", {}).version
    older = [v for v in released if v != default][-1]
    shop = with_session(
        settings,
        lambda s: admin.create_tenant(s, name="Acme", config=TenantConfig(prompt_pins={"customer_reply": older})),
    )
    [missing] = stale(coverage(settings))
    assert (missing.use_case, missing.prompt_version, missing.used_by) == ("customer_reply", older, ["acme"])
    mine = coverage(settings, shop.id)
    assert {p.use_case for p in mine} == set(USE_CASES) and [p.prompt_version for p in stale(mine)] == [older]


def test_status_and_console_name_the_pairs_with_no_current_run(tmp_path: Path) -> None:
    record_runs(configured(tmp_path))
    settings = configured(tmp_path, llm_models={"customer_reply": [NEW_SNAPSHOT]})
    prompts = load_prompts(settings)

    async def work(session: AsyncSession) -> Any:
        return await platform_status(session, None, settings, prompts=prompts, golden=golden_hashes())

    status = with_session(settings, work)
    shown = status_markdown(status)
    assert "Not evaluated on the model in use** (1 of" in shown and "| customer_reply |" in shown
    assert NEW_SNAPSHOT in shown and "hub eval run --stale" in shown
    out = io.StringIO()
    render_eval_coverage(status, Console(file=out, width=200))
    assert NEW_SNAPSHOT in out.getvalue() and "1 of" in out.getvalue() and "seo_product_copy" not in out.getvalue()


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for name in ("HUB_DATABASE_URL", "HUB_REDIS_URL", "HUB_LLM_BASE_URL", "HUB_LLM_API_KEY", "HUB_LLM_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("HUB_LLM_MODELS", raising=False)
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HUB_PROMPTS_DIR", str(default_prompts_dir()))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_run_stale_runs_only_the_use_case_whose_model_changed(cli_env: Path) -> None:
    def hub_eval(*args: str, **env: str) -> Any:
        get_settings.cache_clear()  # each invocation reads its own environment, as a new process would
        return CliRunner().invoke(eval_app, list(args), env=env)

    refused = hub_eval("run", "--stale")
    assert refused.exit_code == 1 and "no model is configured" in refused.stderr
    with ScriptedLLMServer(default=reply("Hi! How can I help you today?")) as server:
        env = {"HUB_LLM_BASE_URL": server.base_url, "HUB_LLM_API_KEY": "k", "HUB_LLM_MODEL": "model-a"}
        record_runs(configured(cli_env))
        unchanged = hub_eval("run", "--stale", "--json", **env)
        assert unchanged.exit_code == 0 and json.loads(unchanged.stdout.strip().splitlines()[-1]) == []
        env["HUB_LLM_MODELS"] = json.dumps({"customer_reply": [NEW_SNAPSHOT]})
        result = hub_eval("run", "--stale", "--limit", "1", "--json", **env)
        both = hub_eval("run", "--stale", "--sim", **env)
    assert result.exit_code == 0, result.output
    [run] = json.loads(result.stdout.strip().splitlines()[-1])
    assert (run["use_case"], run["mode"], run["model"]) == ("customer_reply", "llm", NEW_SNAPSHOT)
    assert f"stale: customer_reply@{run['prompt_version']} × {NEW_SNAPSHOT}" in result.stderr
    assert both.exit_code == 1 and "leave out --prompt-version, --model and --sim" in both.stderr
