"""Structured generation: prompt → model chain → parse → schema → business rules → re-ask → fallback."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

import openai
import redis.asyncio as aioredis
import structlog
from openai.types.chat import ChatCompletion
from pydantic import BaseModel, ValidationError

from hub.gateway.breaker import CircuitBreaker
from hub.gateway.config import GatewayConfig
from hub.gateway.context import CallContext
from hub.gateway.guards import Guard, Preflight, Refusal
from hub.gateway.ledger import UsageLedger
from hub.gateway.pricing import PriceTable
from hub.gateway.run import CallRun, GenerationResult
from hub.gateway.switches import Switch, SwitchBoard
from hub.gateway.transport import Failure, call_with_retries, classify, make_client, make_http_client
from hub.prompting.registry import Prompt, PromptError, PromptRegistry, schema_text
from hub.tenancy.config import TenantConfig

if TYPE_CHECKING:
    from langchain_openai import ChatOpenAI

log = structlog.get_logger(__name__)

T = TypeVar("T", bound=BaseModel)
V = TypeVar("V")
A = TypeVar("A")
C = TypeVar("C")
Validator = Callable[[T], Iterable[str]]
"""Business rule: returns the problems it found (empty when the output may be used)."""
Fallback = Callable[[Refusal], T]
"""Deterministic answer for when no model may or can answer; must not raise."""

PROBE_FEATURE = "breaker_probe"
"""The usage rows of the breaker's background probes."""
_PROBE_MESSAGE = {"role": "user", "content": "Reply with OK."}
_NO_SETTINGS = TenantConfig()
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)
_PASSED_PARAMS = ("temperature", "max_tokens", "top_p", "seed", "presence_penalty", "frequency_penalty", "stop")


@dataclass(frozen=True, slots=True)
class Verdict(Generic[V]):
    """What the ladder needs from one answer: the value or the problems, and what to bill."""

    value: V | None
    errors: list[str]
    usage: tuple[int, int] | None
    """(input, output) tokens from the provider; None means count them locally."""
    text: str
    billing_messages: list[Any]
    raw: Any = None
    """The answer as the trace should keep it (e.g. text plus tool calls); None keeps `text`."""
    billing_tools: list[Any] | None = None
    """The tool definitions sent with the request: providers bill them as input, so a local count includes them."""


def parse_output(
    text: str | None, output_model: type[T], validators: Sequence[Validator[T]]
) -> tuple[T | None, list[str]]:
    """Climb parse → schema → business rules; return the value or the problems, worded for a re-ask."""
    if not text or not text.strip():
        return None, ["the answer was empty"]
    body = text.strip()
    if body.startswith("```") and (fenced := _FENCE.match(body)):
        body = fenced.group(1)
    try:
        value = output_model.model_validate_json(body)  # parse and validate in one pass, in pydantic-core
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        if errors[0]["type"] == "json_invalid":
            try:  # the standard library's wording, which a model knows best how to act on
                json.loads(body)
            except json.JSONDecodeError as bad:
                return None, [f"the answer is not valid JSON ({bad.msg} at line {bad.lineno} column {bad.colno})"]
        return None, [f"{'.'.join(str(p) for p in err['loc']) or 'answer'}: {err['msg']}" for err in errors]
    problems = [problem for check in validators for problem in check(value)]
    return (None, problems) if problems else (value, [])


TRUNCATED = "the answer was cut off at the token limit (finish_reason 'length'): answer completely and more briefly"
"""The problem a non-streamed answer that ran out of tokens is re-asked with: a truncated answer is not an answer."""


def truncation(finish_reason: str | None) -> list[str]:
    """The problem with an answer the model stopped because it hit its token limit (none for any other reason)."""
    return [TRUNCATED] if finish_reason == "length" else []


def reask_text(errors: list[str], instruction: str) -> str:
    """Tell the model exactly what was wrong, so the re-ask can fix it."""
    listed = "\n".join(f"- {e}" for e in errors)
    return f"Your previous answer was rejected:\n{listed}\n{instruction}"


def reask_message(errors: list[str]) -> dict[str, str]:
    instruction = "Answer again with only a JSON object that fixes every problem above and matches the schema."
    return {"role": "user", "content": reask_text(errors, instruction)}


class Gateway:
    """The only door to a model. Holds the SDK client, breaker, ledger, prices and prompts."""

    def __init__(
        self,
        config: GatewayConfig,
        *,
        redis: aioredis.Redis,
        ledger: UsageLedger,
        prompts: PromptRegistry,
        prices: PriceTable | None = None,
        switches: SwitchBoard | None = None,
    ) -> None:
        self.config = config
        self.switches = switches
        """The kill switches this process follows; None means none are ever off (bare test gateways)."""
        self.redis = redis
        self.ledger = ledger
        self.prompts = prompts
        self.prices = prices or PriceTable.load()
        self.breaker = CircuitBreaker(
            redis,
            failures=config.breaker_failures,
            cooldown_s=config.breaker_cooldown_s,
            probe=self.probe,
            probe_timeout_s=min(config.connect_timeout_s + config.read_timeout_s, config.deadline_s),
        )
        self.guard = Guard(redis, self.breaker, switches=switches)
        ledger.on_spend = self.guard.add_spend
        self.http_client = make_http_client(config) if config.configured else None
        self.client: openai.AsyncOpenAI | None = (
            make_client(config, self.http_client) if self.http_client is not None else None
        )
        self._prompts: dict[tuple[str, str | None], Prompt] = {}
        self._chains: dict[tuple[str, str | None], list[str]] = {}
        self._params: dict[str, dict[str, Any]] = {}
        self.chat_clients: dict[str, ChatOpenAI] = {}
        """model → the process's one LangChain client for it, on `http_client` (`chat_model.chat_client` fills it)."""

    async def aclose(self) -> None:
        """Stop following kill switches, write every pending usage row and call count, then close the HTTP pool."""
        if self.switches is not None:
            await self.switches.aclose()
        await self.breaker.aclose()
        await self.ledger.aclose()
        await self.guard.aclose()
        if self.http_client is not None:
            await self.http_client.aclose()

    async def probe(self, model: str, tenant_id: uuid.UUID | None) -> bool:
        """Ask `model` for one token, as the breaker's background probe; return whether it is back.

        Billed like any attempt (feature `breaker_probe`) to the tenant whose call opened the circuit:
        every ledger row needs a tenant, and that is whose service the probe restores. With no tenant
        known (a circuit opened by an older replica) the probe is only logged. A refusal other than 429
        or 5xx also closes the circuit: the model answers quickly, and only hangs and retryable errors
        open circuits.
        """
        if self.client is None:
            return False
        run = None
        if tenant_id is not None:
            run = self.new_run(CallContext(tenant_id=tenant_id, tenant=_NO_SETTINGS), PROBE_FEATURE, None)
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.breaker.probe_timeout_s):
                completion = await self.complete(model, [_PROBE_MESSAGE], {"max_tokens": 1})
        except Exception as exc:
            failure = classify(exc)
            if run is not None:
                run.failed_attempt(model, failure, time.monotonic() - started)
            log.info("circuit_probe", model=model, answered=not failure.retryable, error=failure.summary())
            return not failure.retryable
        if run is not None:
            choice = completion.choices[0] if completion.choices else None
            usage = (completion.usage.prompt_tokens, completion.usage.completion_tokens) if completion.usage else None
            run.answered_attempt(
                model,
                latency_s=time.monotonic() - started,
                usage=usage,
                messages=[_PROBE_MESSAGE],
                output_text=(choice.message.content if choice else None) or "",
                errors=[],
            )
        log.info("circuit_probe", model=model, answered=True)
        return True

    async def complete(self, model: str, messages: list[dict[str, Any]], params: Mapping[str, Any]) -> ChatCompletion:
        """Send one chat completion through the SDK client: its auth, base URL, timeouts, errors and response types.

        Not through `chat.completions.create`: that runs the SDK's typed-parameter transform on every call
        (walking some forty unset parameters and every message against its TypedDict union), which costs
        about 0.4 ms of CPU for a request that is already plain JSON with only the keys we set.
        """
        return await self.post_chat({"model": model, "messages": messages, **params})

    async def post_chat(self, body: Mapping[str, Any]) -> ChatCompletion:
        """POST a chat-completions body that is already plain JSON (see `complete`) on the gateway's client."""
        assert self.client is not None
        return await self.client.post("/chat/completions", body=body, cast_to=ChatCompletion)

    def resolve(self, use_case: str, tenant_pins: Mapping[str, str]) -> Prompt:
        """The registry's prompt for the tenant's pin (or the default): the registry never changes, so once per pin."""
        key = (use_case, tenant_pins.get(use_case))
        prompt = self._prompts.get(key)
        if prompt is None:
            prompt = self._prompts[key] = self.prompts.resolve(use_case, tenant_pins)
        return prompt

    def chain(self, feature: str, hint: str | None) -> list[str]:
        """The feature's models (a fresh list each time); the config never changes, so each chain is built once."""
        chain = self._chains.get((feature, hint))
        if chain is None:
            chain = self._chains[(feature, hint)] = self.config.chain(feature, hint)
        return list(chain)

    def _params_of(self, prompt: Prompt) -> dict[str, Any]:
        """The request parameters a prompt sets; a released prompt never changes, so once per version."""
        params = self._params.get(prompt.ref)
        if params is None:
            params = self._params[prompt.ref] = {
                k: v for k in _PASSED_PARAMS if (v := prompt.params.get(k)) is not None
            }
        return params

    def model_switch(self, model: str) -> Switch | None:
        """The kill switch that takes `model` out of every chain, or None (a dictionary lookup, no round trip)."""
        return self.switches.model_off(model) if self.switches is not None else None

    def new_run(self, ctx: CallContext, feature: str, prompt: Prompt | None) -> CallRun:
        return CallRun(
            ledger=self.ledger,
            prices=self.prices,
            ctx=ctx,
            feature=feature,
            provider=self.config.provider,
            prompt_id=prompt.use_case if prompt else None,
            prompt_version=prompt.version if prompt else None,
            prompt_sha256=prompt.sha256 if prompt else None,
        )

    async def generate(
        self,
        ctx: CallContext,
        *,
        use_case: str,
        variables: Mapping[str, Any],
        fallback: Fallback[T],
        validators: Sequence[Validator[T]] = (),
        output_model: type[T] | None = None,
        feature: str | None = None,
    ) -> GenerationResult[T]:
        """Return a typed, validated result from a model, or the deterministic fallback; never raise for the model."""
        prompt = self.resolve(use_case, ctx.tenant.prompt_pins)
        # A prompt's output model is the type its callers' fallback and validators are written for.
        model_cls = cast("type[T] | None", output_model or prompt.output_model)
        if model_cls is None:
            raise PromptError(f"prompt {prompt.ref} is an agent prompt (output: null); the agent graph runs it")
        feature = feature or use_case
        run = self.new_run(ctx, feature, prompt)
        models = self.chain(feature, prompt.model)
        check = await self.guard.preflight(
            tenant_id=ctx.tenant_id,
            tenant=ctx.tenant,
            feature=feature,
            provider=self.config.provider,
            models=models,
            rate_limit_per_minute=self.config.rate_limit_per_minute,
        )
        if check.budget_warning:
            log.warning("budget_soft_limit", tenant_id=str(ctx.tenant_id), feature=feature, detail=check.budget_warning)
        if check.refusal is not None:
            run.rung("guard", None, f"{check.refusal}: {check.detail}")
            return self._fall_back(run, prompt, fallback, check.refusal, check.detail, check.budget_warning)

        messages = prompt.render({**variables, "output_schema": schema_text(model_cls)})
        params = self._params_of(prompt)
        run.params = params

        async def call(model: str, convo: list[dict[str, Any]]) -> ChatCompletion:
            return await self.complete(model, convo, params)

        def judge(completion: Any, convo: list[dict[str, Any]]) -> Verdict[T]:
            choice = completion.choices[0] if completion.choices else None
            text = (choice.message.content if choice else None) or ""
            errors = truncation(choice.finish_reason if choice else None)
            value, errors = (None, errors) if errors else parse_output(text, model_cls, validators)
            usage = (completion.usage.prompt_tokens, completion.usage.completion_tokens) if completion.usage else None
            return Verdict(value, errors, usage, text, convo)

        def reask(convo: list[dict[str, Any]], verdict: Verdict[T]) -> list[dict[str, Any]]:
            return [*convo, {"role": "assistant", "content": verdict.text}, reask_message(verdict.errors)]

        outcome = await self.climb(run, models, check, messages, call=call, judge=judge, reask=reask)
        if isinstance(outcome, Refusal):
            return self._fall_back(
                run, prompt, fallback, outcome, "no model produced a valid answer", check.budget_warning
            )
        value, model = outcome
        return GenerationResult(
            value=value,
            engine="llm",
            model=model,
            prompt_ref=prompt.ref,
            rungs=run.rungs,
            cost=run.cost,
            input_tokens=run.input_tokens,
            attempts=run.attempt,
            budget_warning=check.budget_warning,
            request_id=ctx.request_id,
            trace_id=ctx.trace_id,
        )

    async def climb(
        self,
        run: CallRun,
        models: list[str],
        check: Preflight,
        messages: list[C],
        *,
        call: Callable[[str, list[C]], Awaitable[A]],
        judge: Callable[[A, list[C]], Verdict[V]],
        reask: Callable[[list[C], Verdict[V]], list[C]],
    ) -> tuple[V, str] | Refusal:
        """Walk the model chain: skip switched-off models and open circuits, retry failures, re-ask invalid answers.

        Return the first valid value with the model that gave it, or why none did. Every attempt is
        billed and every step recorded on `run`, whatever the message format (`C`) and answer (`A`).
        """
        if run.ctx.release is not None:
            await run.ctx.release()
        deadline_at = time.monotonic() + self.config.deadline_s
        provider = self.config.provider
        last = Refusal.CIRCUITS_OPEN
        for model in models:
            if (switch := self.model_switch(model)) is not None:
                run.rung("switched_off", model, f"{switch.describe()}; skipping to the next model")
                last = Refusal.SWITCHED_OFF
                continue
            snapshot = check.breakers[model]
            if not self.breaker.admit(provider, model, snapshot):
                run.rung("circuit_open", model, "circuit open; skipping to the next model")
                continue
            convo = list(messages)
            for ask in range(1 + self.config.max_reasks):
                if ask:
                    run.rung("reask", model, f"re-ask {ask} of {self.config.max_reasks}")
                failures, on_failure = run.failure_recorder(model)

                async def attempt(model: str = model, convo: list[C] = convo) -> tuple[A, float]:
                    started = time.monotonic()
                    answer = await call(model, convo)
                    return answer, time.monotonic() - started

                try:
                    answer, latency_s = await call_with_retries(
                        attempt, config=self.config, deadline_at=deadline_at, on_failure=on_failure
                    )
                except asyncio.CancelledError:
                    self.count_cancelled(model, failures, run.ctx.tenant_id)
                    raise
                except Exception:
                    if not failures:
                        log.exception("gateway_unclassified_error", model=model, feature=run.feature)
                    if any(f.retryable for f in failures):
                        hang = any(f.hang for f in failures)
                        await self.breaker.record_failure(provider, model, hang=hang, tenant_id=run.ctx.tenant_id)
                    last = Refusal.MODELS_FAILED
                    run.rung("next_model", model, failures[-1].summary() if failures else "failed")
                    break
                if failures:  # it answered in the end: not hung, whatever the earlier attempts did
                    await self.breaker.record_failure(provider, model, tenant_id=run.ctx.tenant_id)
                elif snapshot.failures:
                    await self.breaker.record_success(provider, model, snapshot)
                verdict = judge(answer, convo)
                run.answered_attempt(
                    model,
                    latency_s=latency_s,
                    usage=verdict.usage,
                    messages=verdict.billing_messages,
                    tools=verdict.billing_tools,
                    output_text=verdict.text,
                    errors=verdict.errors,
                    raw_output=verdict.raw,
                )
                if not verdict.errors:
                    return cast(V, verdict.value), model  # a verdict without errors carries its value
                last = Refusal.INVALID_OUTPUT
                convo = reask(convo, verdict)
            else:
                run.rung("next_model", model, f"still invalid after {self.config.max_reasks} re-asks")
        return last

    def count_cancelled(self, model: str, failures: list[Failure], tenant_id: uuid.UUID) -> None:
        """Count a call the caller cancelled: a hang if it was waiting on the model, else its retryable failures."""
        if failures and failures[-1].kind == "cancelled":
            self.breaker.note_failure(self.config.provider, model, hang=True, tenant_id=tenant_id)
        elif any(f.retryable for f in failures):
            self.breaker.note_failure(self.config.provider, model, tenant_id=tenant_id)

    def _fall_back(
        self,
        run: CallRun,
        prompt: Prompt,
        fallback: Fallback[T],
        reason: Refusal,
        detail: str,
        budget_warning: str | None,
    ) -> GenerationResult[T]:
        run.fell_back(reason, detail)
        return GenerationResult(
            value=fallback(reason),
            engine="deterministic",
            model=None,
            prompt_ref=prompt.ref,
            rungs=run.rungs,
            cost=run.cost,
            input_tokens=run.input_tokens,
            attempts=run.attempt,
            fallback_reason=reason,
            budget_warning=budget_warning,
            request_id=run.ctx.request_id,
            trace_id=run.ctx.trace_id,
        )
