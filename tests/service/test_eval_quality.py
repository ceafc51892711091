"""Two gates: a worse prompt that keeps the contract passes the contract gate and is rejected by the quality gate.

The local scripted OpenAI-compatible server is both the answering model and the judge: it answers shoppers
helpfully under the released customer_reply prompt and curtly under the draft, and grades (reply_judge,
ragas' faithfulness and answer relevancy) the curt answers low. No network.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from evals.llm_server import ScriptedLLMServer, Step, reply, respond
from evals.runner import RunSpec, run_suite
from hub.prompting.registry import default_prompts_dir
from hub.settings import Settings, get_settings
from service.cli.evals import eval_app

CASES = "2"
DRAFT_RULE = "Answer in as few words as possible; skip the details."
CURT = "OK."
HELPFUL = "Happy to help with this: "


@pytest.fixture
def prompts_dir(tmp_path: Path) -> Path:
    """The shipped prompts plus a draft customer_reply@2.3.0: the same phrases and schema, worse answers."""
    root = tmp_path / "prompts"
    shutil.copytree(default_prompts_dir(), root)
    current = (root / "customer_reply" / "2.2.0.md").read_text()
    draft = current.replace("version: 2.2.0", "version: 2.3.0").replace("## system\n", f"## system\n{DRAFT_RULE}\n", 1)
    (root / "customer_reply" / "2.3.0.md").write_text(draft)
    return root


def _input(text: str) -> dict[str, Any]:
    """The input object a ragas prompt carries after its last `input:`."""
    return json.loads(text.rsplit("input: ", 1)[1].rsplit("Output:", 1)[0])


def _content(message: dict[str, Any]) -> str:
    content = message.get("content") or ""
    return content if isinstance(content, str) else json.dumps(content)


def model_and_judge(body: dict[str, Any]) -> Step:
    messages = body["messages"]
    text = "\n".join(_content(m) for m in messages)
    if "You grade one reply" in text:  # reply_judge
        graded = text.rsplit("<reply>", 1)[1].split("</reply>", 1)[0].strip()
        curt = graded == CURT
        verdict = {"grounded": True, "score": 0.2 if curt else 0.9, "issues": [], "verdict": "fail" if curt else "pass"}
        return reply(json.dumps(verdict))
    if "analyze the complexity of each sentence" in text:  # ragas faithfulness, step 1
        return reply(json.dumps({"statements": [_input(text)["answer"]]}))
    if "judge the faithfulness of a series of statements" in text:  # ragas faithfulness, step 2
        statements = _input(text)["statements"]
        verdicts = [{"statement": s, "reason": "r", "verdict": 0 if s == CURT else 1} for s in statements]
        return reply(json.dumps({"statements": verdicts}))
    if "Generate a question for the given answer" in text:  # ragas answer relevancy
        response = _input(text)["response"]
        if response == CURT:
            return reply(json.dumps({"question": "What?", "noncommittal": 1}))
        return reply(json.dumps({"question": response.removeprefix(HELPFUL), "noncommittal": 0}))
    # the answering model: the shopper's turn
    if DRAFT_RULE in text:
        return reply(CURT)
    last = next(_content(m) for m in reversed(messages) if m.get("role") == "user")
    return reply(HELPFUL + re.sub(r"\s+", " ", last).strip())


@pytest.fixture
def llm() -> Iterator[ScriptedLLMServer]:
    with ScriptedLLMServer(default=respond(model_and_judge, with_body=True)) as server:
        yield server


@pytest.fixture
def cli_env(tmp_path: Path, prompts_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    for name in ("HUB_DATABASE_URL", "HUB_REDIS_URL", "HUB_LLM_BASE_URL", "HUB_LLM_API_KEY", "HUB_LLM_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HUB_PROMPTS_DIR", str(prompts_dir))
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def test_a_worse_prompt_that_keeps_the_contract_passes_the_contract_gate_and_fails_the_quality_gate(
    cli_env: Settings, llm: ScriptedLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    contract = runner.invoke(eval_app, ["gate", "-u", "customer_reply", "--limit", CASES])
    assert contract.exit_code == 0, contract.output
    assert "contract gate" in contract.stderr and "customer_reply@2.3.0" in contract.stderr

    no_model = runner.invoke(eval_app, ["gate", "--quality", "-u", "customer_reply"])
    assert no_model.exit_code != 0
    assert "quality gate: no model is configured" in no_model.stderr

    monkeypatch.setenv("HUB_LLM_BASE_URL", llm.base_url)
    monkeypatch.setenv("HUB_LLM_API_KEY", "k")
    monkeypatch.setenv("HUB_LLM_MODEL", "model-a")
    get_settings.cache_clear()
    quality = ["gate", "--quality", "-u", "customer_reply", "--limit", CASES]
    recorded = runner.invoke(eval_app, [*quality, "--record"], env={"COLUMNS": "200"})
    assert recorded.exit_code == 0, recorded.output
    assert "quality gate: passed" in recorded.stderr and "customer_reply@2.2.0@model-a.json" in recorded.stderr
    baseline = json.loads(
        (cli_env.data_dir / "evals" / "baselines" / "quality" / "customer_reply@2.2.0@model-a.json").read_text()
    )
    assert baseline["metrics"]["judge_score"] == pytest.approx(0.9)
    assert baseline["metrics"]["faithfulness"] == pytest.approx(1.0)
    assert baseline["metrics"]["answer_relevancy"] > 0.0

    same = runner.invoke(eval_app, quality)
    assert same.exit_code == 0, same.output

    worse = runner.invoke(eval_app, [*quality, "--prompt-version", "2.3.0"], env={"COLUMNS": "200"})
    assert worse.exit_code == 1, worse.output
    assert "quality gate: rejected: quality gate: customer_reply@2.3.0" in worse.stderr
    assert "judge_score 0.200 vs baseline 0.900" in worse.stderr


async def test_judge_calls_are_billed_to_the_evals_feature(
    tmp_path: Path, prompts_dir: Path, llm: ScriptedLLMServer
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        prompts_dir=prompts_dir,
        llm_base_url=llm.base_url,
        llm_model="model-a",
        eval_judge_model="judge-b",
    )
    result = await run_suite(settings, RunSpec("customer_reply", limit=1))
    assert result.mode == "llm" and result.model == "model-a"
    assert {"judge_score", "faithfulness", "answer_relevancy"} <= result.metrics.keys()
    assert result.usage["evals"]["calls"] >= 4, result.usage  # reply_judge, 2 faithfulness, relevancy questions
    judged = [r.body for r in llm.requests if "You grade one reply" in json.dumps(r.body)]
    assert judged and all(body["model"] == "judge-b" for body in judged)

    summary = await run_suite(settings, RunSpec("crm_customer_summary", limit=1))
    assert "rubric_score" in summary.metrics and summary.usage["evals"]["calls"] >= 1
