"""A LangChain chat model for the agent node that goes through the same guards, retries, breaker and ledger."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from typing import Any, NoReturn, cast

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool
from langchain_openai import ChatOpenAI
from pydantic import ConfigDict, Field, SecretStr

from hub.gateway.context import CallContext
from hub.gateway.gateway import Gateway, Verdict, reask_text, truncation
from hub.gateway.guards import Preflight, Refusal
from hub.gateway.run import CallRun, Rung
from hub.gateway.transport import CANCELLED, StreamBroken, call_with_retries, classify

MessageValidator = Callable[[AIMessage], Sequence[str]]


class ModelUnavailable(Exception):
    """No model may or could answer; the graph's deterministic fallback node takes over."""

    def __init__(self, reason: Refusal, detail: str, rungs: list[Rung]) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.rungs = rungs


def chat_client(gateway: Gateway, model: str) -> ChatOpenAI:
    """Return the process's one LangChain client for `model`, built on first use on the gateway's HTTP pool.

    Every turn builds its own `GatewayChatModel` (and the graph copies it per call); they all share this
    client, so no turn pays for building one or leaves another connection pool behind.
    """
    client = gateway.chat_clients.get(model)
    if client is None:
        cfg = gateway.config
        client = gateway.chat_clients[model] = ChatOpenAI(
            model=model,
            base_url=cfg.base_url,
            api_key=SecretStr(cfg.api_key or "not-needed"),
            max_retries=0,
            timeout=cfg.read_timeout_s,
            stream_usage=True,
            http_async_client=gateway.http_client,
        )
    return client


def _message_dicts(messages: list[BaseMessage]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for m in messages:
        entry: dict[str, Any] = {"role": m.type, "content": m.content if isinstance(m.content, str) else str(m.content)}
        if isinstance(m, AIMessage) and m.tool_calls:
            entry["tool_calls"] = [{"function": {"name": c["name"], "arguments": str(c["args"])}} for c in m.tool_calls]
        out.append(entry)
    return out


def _traced_params(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The call's parameters as the trace keeps them: tool schemas shortened to their names."""
    params = {k: v for k, v in kwargs.items() if k != "tools"}
    if kwargs.get("tools"):
        params["tools"] = [t.get("function", {}).get("name") for t in kwargs["tools"]]
    return params


def _has_payload(chunk: ChatGenerationChunk) -> bool:
    msg = chunk.message
    return bool(
        msg.content
        or getattr(msg, "tool_call_chunks", None)
        or (chunk.generation_info or {}).get("finish_reason")
        or msg.response_metadata.get("finish_reason")
    )


class GatewayChatModel(BaseChatModel):
    """Tool calling and streaming for LangGraph, billed, validated and traced like structured calls.

    Invalid tool-call arguments and caller validators trigger a re-ask (up to the gateway's limit),
    then the next model; when nothing answers it raises `ModelUnavailable` for the graph to route
    to its deterministic node. A stream that has started reaching the caller is never retried
    silently: it either finishes with a finish reason or raises `StreamBroken`.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    gateway: Gateway
    ctx: CallContext
    feature: str = "agent"
    prompt_id: str | None = None
    prompt_version: str | None = None
    prompt_sha256: str | None = None
    model_hint: str | None = None
    """The prompt's `model:` hint; it leads the feature's fallback chain like it does for structured calls."""
    models: list[str] | None = None
    """Use exactly these models instead of the feature's chain (a replay against another model)."""
    validators: list[MessageValidator] = Field(default_factory=list)
    last_run: CallRun | None = None

    @property
    def _llm_type(self) -> str:
        return "hub-gateway"

    @property
    def _serialized(self) -> dict[str, Any]:  # pyright: ignore[reportIncompatibleVariableOverride]  # see below
        """What callbacks are told this model is. LangChain's default reprs every field (the gateway with its
        clients included) on every call: about a millisecond a call, for a string nobody reads. A plain property
        where LangChain caches one: nothing assigns it, and the feature is read when it is asked for."""
        return {"lc": 1, "type": "not_implemented", "id": ["hub", "gateway", "GatewayChatModel"], "name": self.feature}

    async def answer(self, messages: list[BaseMessage], **kwargs: Any) -> AIMessage:
        """One agent step: what `ainvoke` returns, without LangChain's per-call run managers and cache lookup.

        The conversation graph calls this (it traces and bills every call through the gateway itself); `tools` are
        OpenAI tool definitions, as `bind_tools` would send them.
        """
        result = await self._agenerate(messages, **kwargs)
        message = result.generations[0].message
        assert isinstance(message, AIMessage)
        return message

    def bind_tools(
        self, tools: Sequence[Any], *, tool_choice: str | None = None, **kwargs: Any
    ) -> Runnable[LanguageModelInput, AIMessage]:
        formatted = [convert_to_openai_tool(t) for t in tools]
        if tool_choice is not None:
            if tool_choice == "any":
                tool_choice = "required"
            kwargs["tool_choice"] = (
                tool_choice
                if tool_choice in ("auto", "none", "required")
                else {"type": "function", "function": {"name": tool_choice}}
            )
        return self.bind(tools=formatted, **kwargs)

    def _client(self, model: str) -> ChatOpenAI:
        return chat_client(self.gateway, model)

    def _new_run(self) -> CallRun:
        run = self.gateway.new_run(self.ctx, self.feature, None)
        run.prompt_id, run.prompt_version = self.prompt_id, self.prompt_version
        run.prompt_sha256 = self.prompt_sha256
        self.last_run = run
        return run

    async def _preflight(self, run: CallRun) -> tuple[list[str], Preflight]:
        cfg = self.gateway.config
        models = (
            (list(self.models) if cfg.configured else [])
            if self.models
            else self.gateway.chain(self.feature, self.model_hint)
        )
        check = await self.gateway.guard.preflight(
            tenant_id=self.ctx.tenant_id,
            tenant=self.ctx.tenant,
            feature=self.feature,
            provider=cfg.provider,
            models=models,
            rate_limit_per_minute=cfg.rate_limit_per_minute,
        )
        if check.refusal is not None:
            run.rung("guard", None, f"{check.refusal}: {check.detail}")
            self._give_up(run, check.refusal, check.detail)
        return models, check

    def _give_up(self, run: CallRun, reason: Refusal, detail: str) -> NoReturn:
        run.fell_back(reason, detail)
        raise ModelUnavailable(reason, detail, run.rungs)

    def _problems(self, message: AIMessage) -> list[str]:
        problems = [
            f"tool call {c.get('name')!r} has arguments that are not valid JSON: {c.get('error') or c.get('args')}"
            for c in message.invalid_tool_calls
        ]
        return problems + [p for check in self.validators for p in check(message)]

    def _verdict(
        self,
        message: AIMessage,
        convo: list[BaseMessage],
        tools: list[Any] | None = None,
        *,
        finish_reason: str | None = None,
    ) -> Verdict[AIMessage]:
        usage = message.usage_metadata
        return Verdict(
            value=message,
            errors=truncation(finish_reason) + self._problems(message),
            usage=(usage["input_tokens"], usage["output_tokens"]) if usage else None,
            text=message.content if isinstance(message.content, str) else str(message.content),
            billing_messages=_message_dicts(convo),
            billing_tools=tools,
            raw={
                "content": message.content,
                "tool_calls": [{"name": c["name"], "args": c["args"], "id": c.get("id")} for c in message.tool_calls],
                "invalid_tool_calls": [dict(c) for c in message.invalid_tool_calls],
            },
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        raise NotImplementedError("GatewayChatModel is async-only: use ainvoke/astream")

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        run = self._new_run()
        run.params = _traced_params(kwargs)
        models, check = await self._preflight(run)

        async def call(model: str, convo: list[BaseMessage]) -> ChatResult:
            # LangChain writes the request and reads the answer; the gateway's client sends it as plain JSON
            # (see `Gateway.complete`: the SDK's typed transform walks every tool schema on every call) and the
            # answer is read here rather than on a worker thread (`ChatOpenAI._agenerate` hops to one).
            client = self._client(model)
            payload = client._get_request_payload(convo, stop=stop, **kwargs)  # pyright: ignore[reportPrivateUsage, reportUnknownMemberType, reportUnknownVariableType]  # LangChain's, typed `dict`
            response = await self.gateway.post_chat(cast("dict[str, Any]", payload))  # an OpenAI request body
            return client._create_chat_result(response)  # pyright: ignore[reportPrivateUsage, reportUnknownMemberType]  # LangChain's, as above

        def judge(result: ChatResult, convo: list[BaseMessage]) -> Verdict[AIMessage]:
            generation = result.generations[0]
            message = generation.message
            assert isinstance(message, AIMessage)
            finish_reason = (generation.generation_info or {}).get("finish_reason")
            return self._verdict(message, convo, kwargs.get("tools"), finish_reason=finish_reason)

        def reask(convo: list[BaseMessage], verdict: Verdict[AIMessage]) -> list[BaseMessage]:
            instruction = "Answer again, fixing every problem above."
            return [
                *convo,
                AIMessage(content=verdict.text),
                HumanMessage(content=reask_text(verdict.errors, instruction)),
            ]

        outcome = await self.gateway.climb(run, models, check, list(messages), call=call, judge=judge, reask=reask)
        if isinstance(outcome, Refusal):
            self._give_up(run, outcome, "no model produced a valid answer")
        message, _ = outcome
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        gw, cfg = self.gateway, self.gateway.config
        run = self._new_run()
        run.params = _traced_params(kwargs)
        models, check = await self._preflight(run)
        deadline_at = time.monotonic() + cfg.deadline_s
        for model in models:
            if (switch := gw.model_switch(model)) is not None:
                run.rung("switched_off", model, f"{switch.describe()}; skipping to the next model")
                continue
            snapshot = check.breakers[model]
            if not gw.breaker.admit(cfg.provider, model, snapshot):
                run.rung("circuit_open", model, "circuit open; skipping to the next model")
                continue
            failures, on_failure = run.failure_recorder(model)

            async def open_stream(
                model: str = model,
            ) -> tuple[AsyncGenerator[ChatGenerationChunk, None], list[ChatGenerationChunk], float]:
                # Hold back framing chunks until real content arrives, so a stream that fails or
                # stalls before saying anything can still be retried invisibly.
                started = time.monotonic()
                # ChatOpenAI._astream is an async generator function (typed as returning an iterator): aclose() below.
                stream = cast(
                    "AsyncGenerator[ChatGenerationChunk, None]",
                    self._client(model)._astream(list(messages), stop=stop, **kwargs),  # pyright: ignore[reportPrivateUsage]  # LangChain's streaming call, as above
                )
                held: list[ChatGenerationChunk] = []
                async for chunk in stream:
                    held.append(chunk)
                    if _has_payload(chunk):
                        return stream, held, started
                raise StreamBroken("stream ended before any content")

            try:
                stream, held, started = await call_with_retries(
                    open_stream, config=cfg, deadline_at=deadline_at, on_failure=on_failure
                )
            except asyncio.CancelledError:
                gw.count_cancelled(model, failures, self.ctx.tenant_id)
                raise
            except Exception:
                if any(f.retryable for f in failures):
                    hang = any(f.hang for f in failures)
                    await gw.breaker.record_failure(cfg.provider, model, hang=hang, tenant_id=self.ctx.tenant_id)
                run.rung("next_model", model, failures[-1].summary() if failures else "failed")
                continue
            # ChatOpenAI streams AIMessageChunks, and two of them add up to one (typed as BaseMessageChunk).
            total: AIMessageChunk | None = None
            finish = None
            try:
                for chunk in held:
                    total = cast(AIMessageChunk, chunk.message if total is None else total + chunk.message)
                    finish = finish or (chunk.generation_info or {}).get("finish_reason")
                    yield chunk
                async for chunk in stream:
                    total = cast(AIMessageChunk, chunk.message if total is None else total + chunk.message)
                    finish = (
                        finish
                        or (chunk.generation_info or {}).get("finish_reason")
                        or chunk.message.response_metadata.get("finish_reason")
                    )
                    yield chunk
                if finish is None:
                    raise StreamBroken("stream ended without a finish reason")
            except asyncio.CancelledError:
                # The caller's deadline passed mid-stream: bill what was sent, count a hang, let it go on.
                run.failed_attempt(model, CANCELLED, time.monotonic() - started)
                gw.breaker.note_failure(cfg.provider, model, hang=True, tenant_id=self.ctx.tenant_id)
                raise
            except Exception as exc:
                failure = classify(exc)
                run.failed_attempt(model, failure, time.monotonic() - started)
                await gw.breaker.record_failure(cfg.provider, model, hang=failure.hang, tenant_id=self.ctx.tenant_id)
                run.fell_back(Refusal.MODELS_FAILED, f"stream broke after output began: {failure.summary()}")
                raise StreamBroken(failure.summary()) from exc
            finally:
                await stream.aclose()  # a caller that stops reading early must not leave the response open
            if snapshot.failures:
                await gw.breaker.record_success(cfg.provider, model, snapshot)
            message = AIMessage(
                content=total.content if total else "",
                tool_calls=total.tool_calls if total else [],
                invalid_tool_calls=total.invalid_tool_calls if total else [],
                usage_metadata=total.usage_metadata if total else None,
            )
            verdict = self._verdict(message, list(messages), kwargs.get("tools"))
            run.answered_attempt(
                model,
                latency_s=time.monotonic() - started,
                usage=verdict.usage,
                messages=verdict.billing_messages,
                tools=verdict.billing_tools,
                output_text=verdict.text,
                errors=verdict.errors,
                raw_output=verdict.raw,
            )
            return
        self._give_up(run, Refusal.MODELS_FAILED, "no model could stream an answer")
