"""Serve a scripted, OpenAI-compatible chat-completions API over real HTTP for tests and the gateway bench.

Each `POST /v1/chat/completions` consumes the next scripted step (`reply`, `tool_call`, `respond`, `error`, `drop`,
`stall`, `truncated_stream`, `corrupt_stream`, `slow_first_token`), or the default step once the script is
empty, and answers in the OpenAI wire format, JSON or server-sent events. Every chat request is recorded so a
test can assert what the client sent.

    with ScriptedLLMServer() as server:
        server.enqueue(error(429, retry_after=2), reply("hello"))
        client = openai.AsyncOpenAI(base_url=server.base_url, api_key="test")

The server is uvicorn in a background thread with its own event loop, so the sync `start()`/`stop()` also
work from async tests; `async with` runs them off the test's event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import re
import signal
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from types import FrameType, TracebackType
from typing import Any, Self, assert_never

import uvicorn

from hub.gateway import tokens

Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Usage = bool | tuple[int, int]
"""True: count whitespace-separated words; (prompt, completion): exact token counts; False: no usage block."""

_START_TIMEOUT_S = 10.0
_STOP_TIMEOUT_S = 15.0
_GRACEFUL_SHUTDOWN_S = 5
_ARGUMENT_FRAGMENT_CHARS = 8
_PIECE = re.compile(r"\s*\S+|\s+$")
"""One streamed content piece: a word with the whitespace before it, like a model token."""

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}
_JSON = (b"content-type", b"application/json")
_SSE = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache")]


@dataclass(frozen=True)
class Reply:
    """Answer with an assistant message."""

    content: str
    usage: Usage = True
    finish_reason: str = "stop"
    delay_s: float = 0.0
    """Wait before the response headers."""


@dataclass(frozen=True)
class ToolCall:
    """Answer with one function tool call."""

    name: str
    arguments: str
    """Sent verbatim, so it may be broken JSON."""
    call_id: str | None = None
    usage: Usage = True


@dataclass(frozen=True)
class Error:
    """Answer with an OpenAI-style error body."""

    status: int
    message: str
    retry_after: float | None = None
    code: str | None = None


@dataclass(frozen=True)
class Drop:
    """Close the TCP connection without sending any response."""


@dataclass(frozen=True)
class Stall:
    """Stall before answering; a stream sends its first content chunk first."""

    seconds: float
    content: str = "ok"


@dataclass(frozen=True)
class TruncatedStream:
    """End the response early: a stream without finish_reason and `[DONE]`, a JSON body cut mid-way."""

    content: str


@dataclass(frozen=True)
class CorruptStream:
    """Send one valid chunk, then a `data:` line that is not JSON (a non-stream request gets an invalid body)."""

    content: str


@dataclass(frozen=True)
class SlowFirstToken:
    """Send the stream headers at once, then wait before the first chunk."""

    delay_s: float
    content: str


def reply(content: str, *, usage: Usage = True, finish_reason: str = "stop", delay_s: float = 0.0) -> Reply:
    """Answer with `content`, after `delay_s`, reporting `usage` and `finish_reason`."""
    return Reply(content=content, usage=usage, finish_reason=finish_reason, delay_s=delay_s)


def tool_call(
    name: str, arguments: dict[str, Any] | str, *, call_id: str | None = None, usage: Usage = True
) -> ToolCall:
    """Call tool `name`; dict arguments are JSON-encoded, a string is sent as is."""
    encoded = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return ToolCall(name=name, arguments=encoded, call_id=call_id, usage=usage)


def error(
    status: int, message: str | None = None, *, retry_after: float | None = None, code: str | None = None
) -> Error:
    """Fail with HTTP `status`, with a `Retry-After: <seconds>` header when `retry_after` is given."""
    return Error(status=status, message=message or HTTPStatus(status).phrase, retry_after=retry_after, code=code)


def drop() -> Drop:
    """Close the connection without a response; the client sees a connection error."""
    return Drop()


def stall(seconds: float, content: str = "ok") -> Stall:
    """Hold the answer (a stream: after its first content chunk) for `seconds` so a client read timeout fires."""
    return Stall(seconds=seconds, content=content)


def truncated_stream(content: str) -> TruncatedStream:
    """Stream `content`, then end the response without a finish_reason or `[DONE]`."""
    return TruncatedStream(content=content)


def corrupt_stream(content: str) -> CorruptStream:
    """Stream one valid chunk of `content`, then a line of invalid JSON."""
    return CorruptStream(content=content)


def slow_first_token(delay_s: float, content: str) -> SlowFirstToken:
    """Stream `content` with `delay_s` between the response headers and the first chunk."""
    return SlowFirstToken(delay_s=delay_s, content=content)


@dataclass(frozen=True)
class Respond:
    """Decide the answer from the request's messages (or its whole body), like a model reading its context."""

    decide: Callable[[Any], Step]
    with_body: bool = False
    """Pass the whole request body (messages, tools, model) instead of the messages."""


Step = Reply | ToolCall | Error | Drop | Stall | TruncatedStream | CorruptStream | SlowFirstToken | Respond


def respond(decide: Callable[[Any], Step], *, with_body: bool = False) -> Respond:
    """Answer with whatever step `decide(messages)` returns, e.g. a reply that quotes the last tool result."""
    return Respond(decide, with_body)


def last_tool_result(messages: list[dict[str, Any]]) -> Any:
    """The JSON content of the latest `tool` message, or None when the request carries no tool result."""
    for message in reversed(messages):
        if message.get("role") == "tool":
            return json.loads(message["content"])
    return None


_OK = reply("ok")


@dataclass(frozen=True)
class RecordedRequest:
    """One chat-completions request as the server received it."""

    body: dict[str, Any]
    headers: dict[str, str]
    """Lower-case header names; repeated headers are joined with ", "."""
    received_at: float
    """`time.monotonic()` when the request arrived."""
    step: Step
    """The scripted step that answered it."""

    @property
    def model(self) -> str | None:
        return self.body.get("model")

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.body.get("messages", [])


class ScriptedLLMServer:
    """An OpenAI-compatible HTTP server on 127.0.0.1 whose answers a test scripts step by step."""

    def __init__(
        self,
        *,
        default: Step = _OK,
        latency_s: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
        models: Sequence[str] = ("scripted",),
    ) -> None:
        self.default = default
        """Answers every chat request once the script is empty."""
        self.latency_s = latency_s
        """Added before every chat-completions response."""
        self.host = host
        self.models = tuple(models)
        self._port = port
        self._condition = threading.Condition()
        self._script: deque[Step] = deque()
        self._requests: list[RecordedRequest] = []
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._failure: BaseException | None = None
        self._uvicorn: _Uvicorn | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._bound_port: int | None = None

    # Lifecycle

    @property
    def base_url(self) -> str:
        """The OpenAI base URL, `http://127.0.0.1:<port>/v1`."""
        if self._bound_port is None:
            raise RuntimeError("ScriptedLLMServer is not running")
        return f"http://{self.host}:{self._bound_port}/v1"

    @property
    def port(self) -> int:
        if self._bound_port is None:
            raise RuntimeError("ScriptedLLMServer is not running")
        return self._bound_port

    def start(self) -> str:
        """Start serving and return the base URL once the server accepts connections."""
        if self._thread is not None:
            raise RuntimeError("ScriptedLLMServer is already running")
        tokens.count_text("gpt-4o", "warm")  # load the token tables now, not inside the first timed answer
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self._port))
        except OSError:
            sock.close()
            raise
        port = sock.getsockname()[1]
        self._failure = None
        self._started.clear()
        self._thread = threading.Thread(target=self._run, args=(sock,), name=f"llm-server-{port}", daemon=True)
        self._thread.start()
        self._started.wait(_START_TIMEOUT_S)
        if self._uvicorn is None or not self._uvicorn.started:
            failure = self._failure
            self.stop()
            raise RuntimeError(f"ScriptedLLMServer did not start on port {port}") from failure
        self._bound_port = port
        return self.base_url

    def stop(self) -> None:
        """Finish the responses in flight (cutting stalls and delays short) and close every socket."""
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None:
            return
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True
        if loop is not None and stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop already closed
                loop.call_soon_threadsafe(stopping.set)
        thread.join(_STOP_TIMEOUT_S)
        if thread.is_alive():
            raise RuntimeError("ScriptedLLMServer did not stop")
        self._thread = self._uvicorn = self._loop = self._stopping = None
        self._bound_port = None
        failure, self._failure = self._failure, None
        if failure is not None:
            raise RuntimeError("ScriptedLLMServer failed") from failure

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # Off the test's loop, so the test's clients can finish their exchanges while the server drains.
        await asyncio.to_thread(self.stop)

    def _run(self, sock: socket.socket) -> None:
        try:
            with asyncio.Runner(loop_factory=_loop_factory()) as runner:
                runner.run(self._serve(sock))
        except BaseException as exc:  # uvicorn reports a failed startup with SystemExit
            self._failure = exc
        finally:
            sock.close()
            self._started.set()

    async def _serve(self, sock: socket.socket) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        config = uvicorn.Config(
            self._asgi,
            interface="asgi3",
            http="httptools" if _has_module("httptools") else "h11",
            ws="none",
            lifespan="off",
            log_config=None,
            log_level="warning",
            access_log=False,
            proxy_headers=False,
            server_header=False,
            date_header=False,
            timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN_S,
        )
        self._uvicorn = _Uvicorn(config, started=self._started, stopping=self._stopping)
        await self._uvicorn.serve(sockets=[sock])

    # Script

    def enqueue(self, *steps: Step) -> None:
        """Append steps; each chat request consumes the next one."""
        with self._condition:
            self._script.extend(steps)

    @property
    def pending(self) -> list[Step]:
        """The steps not consumed yet."""
        with self._condition:
            return list(self._script)

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of the chat requests received so far, in arrival order."""
        with self._condition:
            return list(self._requests)

    def reset(self) -> None:
        """Forget the script and the recorded requests."""
        with self._condition:
            self._script.clear()
            self._requests.clear()

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until `count` chat requests have arrived and return them; from async code use `asyncio.to_thread`."""
        with self._condition:
            if not self._condition.wait_for(lambda: len(self._requests) >= count, timeout):
                raise TimeoutError(f"{len(self._requests)} of {count} requests arrived within {timeout}s")
            return list(self._requests)

    def _take_step(self, body: dict[str, Any], headers: dict[str, str], received_at: float) -> Step:
        with self._condition:
            step = self._script.popleft() if self._script else self.default
            self._requests.append(RecordedRequest(body=body, headers=headers, received_at=received_at, step=step))
            self._condition.notify_all()
        return step

    # HTTP

    async def _asgi(self, scope: Message, receive: Receive, send: Send) -> None:
        path, method = scope["path"].rstrip("/"), scope["method"]
        if path == "/v1/chat/completions" and method == "POST":
            await self._chat_completions(scope, receive, send)
        elif path == "/v1/models" and method == "GET":
            models = [{"id": name, "object": "model", "created": 0, "owned_by": "hub-tests"} for name in self.models]
            await _send_json(send, 200, {"object": "list", "data": models})
        else:
            await _send_json(send, 404, _error_body(404, f"No route {method} {scope['path']}", None))

    async def _chat_completions(self, scope: Message, receive: Receive, send: Send) -> None:
        received_at = time.monotonic()
        raw = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            raw += message.get("body", b"")
            if not message.get("more_body", False):
                break
        try:
            body = json.loads(raw)
        except ValueError as exc:
            await _send_json(send, 400, _error_body(400, f"Request body is not JSON: {exc}", None))
            return
        if not isinstance(body, dict):
            await _send_json(send, 400, _error_body(400, "Request body must be a JSON object", None))
            return
        headers: dict[str, str] = {}
        for name, value in scope["headers"]:
            key, text = name.decode("latin-1").lower(), value.decode("latin-1")
            headers[key] = f"{headers[key]}, {text}" if key in headers else text
        step = self._take_step(body, headers, received_at)
        exchange = _Exchange(server=self, scope=scope, receive=receive, send=send, body=body)
        if await exchange.pause(self.latency_s):
            await exchange.answer(step)

    def _transport_for(self, scope: Message) -> asyncio.Transport:
        """Find the connection serving `scope`; ASGI does not expose it, uvicorn's server state does."""
        assert self._uvicorn is not None
        client = tuple(scope["client"])
        for connection in list(self._uvicorn.server_state.connections):
            if getattr(connection, "client", None) == client:
                return connection.transport
        raise RuntimeError(f"No open connection from {client}")


class _Uvicorn(uvicorn.Server):
    """uvicorn that reports startup to another thread and waits on an event instead of polling to exit."""

    def __init__(self, config: uvicorn.Config, *, started: threading.Event, stopping: asyncio.Event) -> None:
        super().__init__(config)
        self._started_event = started
        self._stopping = stopping

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self._started_event.set()

    async def main_loop(self) -> None:
        await self.on_tick(0)
        await self._stopping.wait()


@dataclass
class _Exchange:
    """Answer one chat-completions request."""

    server: ScriptedLLMServer
    scope: Message
    receive: Receive
    send: Send
    body: dict[str, Any]
    id: str = field(default_factory=lambda: f"chatcmpl-{uuid.uuid4().hex[:24]}")
    created: int = field(default_factory=lambda: int(time.time()))

    @property
    def model(self) -> str:
        return str(self.body.get("model", "scripted"))

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))

    @property
    def include_usage(self) -> bool:
        options = self.body.get("stream_options") or {}
        return bool(options.get("include_usage"))

    async def answer(self, step: Step) -> None:
        match step:
            case Reply(content=content, usage=usage, finish_reason=finish_reason, delay_s=delay_s):
                if await self.pause(delay_s):
                    await self.reply(content, usage=usage, finish_reason=finish_reason)
            case ToolCall():
                await self.tool_call(step)
            case Error():
                headers: list[tuple[bytes, bytes]] = [_JSON]
                if step.retry_after is not None:
                    headers.append((b"retry-after", f"{step.retry_after:g}".encode()))
                await _send_json(self.send, step.status, _error_body(step.status, step.message, step.code), headers)
            case Drop():
                await self.drop()
            case Stall(seconds=seconds, content=content):
                if self.stream:
                    # After the first content chunk, and always before the chunk carrying the finish_reason.
                    deltas = _content_deltas(content)
                    await self.send_stream(deltas, "stop", usage=True, pause=(min(2, len(deltas) - 1), seconds))
                elif await self.pause(seconds):
                    await self.reply(content, usage=True, finish_reason="stop")
            case SlowFirstToken(delay_s=delay_s, content=content):
                if self.stream:
                    await self.send_stream(_content_deltas(content), "stop", usage=True, pause=(0, delay_s))
                elif await self.pause(delay_s):
                    await self.reply(content, usage=True, finish_reason="stop")
            case Respond(decide=decide, with_body=with_body):
                await self.answer(decide(self.body if with_body else self.body.get("messages", [])))
            case TruncatedStream(content=content):
                await self.truncated(content)
            case CorruptStream(content=content):
                await self.corrupt(content)
            case _:
                assert_never(step)

    async def pause(self, seconds: float) -> bool:
        """Wait `seconds`, cut short when the server stops; return False when the client left meanwhile."""
        stopping = self.server._stopping
        if seconds <= 0 or stopping is None or stopping.is_set():
            return True
        left = asyncio.ensure_future(self._disconnected())
        stopped = asyncio.ensure_future(stopping.wait())
        waiting: set[asyncio.Future[Any]] = {left, stopped}
        done, pending = await asyncio.wait(waiting, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        return left not in done

    async def _disconnected(self) -> None:
        while (await self.receive())["type"] != "http.disconnect":
            pass

    # Bodies

    def usage(self, usage: Usage, completion: str) -> dict[str, int] | None:
        if usage is False:
            return None
        if usage is True:
            # counted the way a provider bills: messages and the tool definitions sent with them
            tools = self.body.get("tools")
            prompt_tokens = tokens.count_messages(self.model, self.body.get("messages", [])) + (
                tokens.count_tools(self.model, tools) if tools else 0
            )
            completion_tokens = max(1, len(completion.split()))
        else:
            prompt_tokens, completion_tokens = usage
        return {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }

    def completion(self, message: dict[str, Any], finish_reason: str, usage: dict[str, int] | None) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "fp_scripted",
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}],
        }
        if usage is not None:
            payload["usage"] = usage
        return payload

    def chunk(self, delta: dict[str, Any] | None, finish_reason: str | None = None) -> dict[str, Any]:
        """A `chat.completion.chunk`; `delta=None` is the usage-only chunk with no choices."""
        choices = (
            [] if delta is None else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]
        )
        payload: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "fp_scripted",
            "choices": choices,
        }
        if self.include_usage:
            payload["usage"] = None
        return payload

    # Answers

    async def reply(self, content: str, *, usage: Usage, finish_reason: str) -> None:
        if self.stream:
            await self.send_stream(_content_deltas(content), finish_reason, usage=usage)
            return
        message = {"role": "assistant", "content": content, "refusal": None}
        await _send_json(self.send, 200, self.completion(message, finish_reason, self.usage(usage, content)))

    async def tool_call(self, step: ToolCall) -> None:
        call_id = step.call_id or f"call_{uuid.uuid4().hex[:24]}"
        if not self.stream:
            call = {"id": call_id, "type": "function", "function": {"name": step.name, "arguments": step.arguments}}
            message = {"role": "assistant", "content": None, "refusal": None, "tool_calls": [call]}
            await _send_json(
                self.send, 200, self.completion(message, "tool_calls", self.usage(step.usage, step.arguments))
            )
            return
        opening = {"index": 0, "id": call_id, "type": "function", "function": {"name": step.name, "arguments": ""}}
        deltas: list[dict[str, Any]] = [{"role": "assistant", "content": None, "tool_calls": [opening]}]
        for start in range(0, len(step.arguments), _ARGUMENT_FRAGMENT_CHARS):
            fragment = step.arguments[start : start + _ARGUMENT_FRAGMENT_CHARS]
            deltas.append({"tool_calls": [{"index": 0, "function": {"arguments": fragment}}]})
        deltas.append({})
        await self.send_stream(deltas, "tool_calls", usage=step.usage, completion=step.arguments)

    async def send_stream(
        self,
        deltas: list[dict[str, Any]],
        finish_reason: str | None,
        *,
        usage: Usage,
        completion: str | None = None,
        pause: tuple[int, float] | None = None,
        done: bool = True,
    ) -> None:
        """Stream `deltas`, the last with `finish_reason`; `pause=(n, s)` waits s seconds before chunk n."""
        await self.send({"type": "http.response.start", "status": 200, "headers": _SSE})
        if completion is None:
            completion = "".join(d.get("content") or "" for d in deltas)
        for index, delta in enumerate(deltas):
            if pause is not None and index == pause[0] and not await self.pause(pause[1]):
                return
            last = index == len(deltas) - 1
            await self.event(self.chunk(delta, finish_reason if last else None))
        if done:
            usage_block = self.usage(usage, completion)
            if self.include_usage and usage_block is not None:
                await self.event({**self.chunk(None), "usage": usage_block})
            await self.event("[DONE]")
        await self.send({"type": "http.response.body", "body": b"", "more_body": False})

    async def event(self, data: dict[str, Any] | str) -> None:
        text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
        await self.send({"type": "http.response.body", "body": f"data: {text}\n\n".encode(), "more_body": True})

    async def drop(self) -> None:
        # Abort before any byte of a response; returning after the disconnect keeps uvicorn from answering 500.
        self.server._transport_for(self.scope).abort()
        await self._disconnected()

    async def truncated(self, content: str) -> None:
        if self.stream:
            await self.send_stream(_content_deltas(content), None, usage=False, done=False)
            return
        message = {"role": "assistant", "content": content, "refusal": None}
        body = _encode(self.completion(message, "stop", self.usage(True, content)))
        headers = [_JSON, (b"content-length", str(len(body)).encode())]
        await self.send({"type": "http.response.start", "status": 200, "headers": headers})
        await self.send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
        await self.drop()

    async def corrupt(self, content: str) -> None:
        broken = f'{{"id": "{self.id}", "object": "chat.completion.chunk", "choices": [{{"delta": '
        if not self.stream:
            await _send_bytes(self.send, 200, broken.encode(), [_JSON])
            return
        await self.send({"type": "http.response.start", "status": 200, "headers": _SSE})
        await self.event(self.chunk({"role": "assistant", "content": content}))
        await self.event(broken)
        await self.send({"type": "http.response.body", "body": b"", "more_body": False})


def _content_deltas(content: str) -> list[dict[str, Any]]:
    return [{"role": "assistant", "content": ""}, *({"content": piece} for piece in _PIECE.findall(content))]


def _word_count(content: object) -> int:
    if isinstance(content, str):
        return len(content.split())
    if isinstance(content, list):
        return sum(len(str(part.get("text", "")).split()) for part in content if isinstance(part, dict))
    return 0


def _error_body(status: int, message: str, code: str | None) -> dict[str, Any]:
    kind = "server_error" if status >= 500 else _ERROR_TYPES.get(status, "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _encode(payload: object) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


async def _send_json(
    send: Send, status: int, payload: object, headers: Iterable[tuple[bytes, bytes]] = (_JSON,)
) -> None:
    await _send_bytes(send, status, _encode(payload), headers)


async def _send_bytes(send: Send, status: int, body: bytes, headers: Iterable[tuple[bytes, bytes]]) -> None:
    all_headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _has_module(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop
    return uvloop.new_event_loop


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the default reply until interrupted: `python -m evals.llm_server --port 8599 --latency-ms 20`."""
    assert __doc__ is not None  # the module docstring (stripped only under -OO)
    parser = argparse.ArgumentParser(prog="python -m evals.llm_server", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8599)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay added to every response")
    parser.add_argument("--reply", default="ok", help="content of every reply")
    args = parser.parse_args(argv)

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    server = ScriptedLLMServer(
        default=reply(args.reply), latency_s=args.latency_ms / 1000, host=args.host, port=args.port
    )
    with server, contextlib.suppress(KeyboardInterrupt):
        print(f"serving {server.base_url} (latency {args.latency_ms:g} ms)", flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()
