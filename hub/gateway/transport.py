"""Run one model request with timeouts, a deadline and retries that honour Retry-After."""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

import httpx2
import openai
from tenacity import wait_exponential_jitter

from hub.gateway.config import GatewayConfig

R = TypeVar("R")
RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})


class StreamBroken(Exception):
    """A stream that ended without a finish reason or carried a corrupt chunk: a failure, not an answer."""


class DeadlineExceeded(Exception):
    """The call's total deadline ran out before an answer came back."""


@dataclass(frozen=True, slots=True)
class Failure:
    """How one failed attempt is classified."""

    retryable: bool
    status: int | None
    kind: Literal[
        "rate_limited",
        "request_timeout",
        "server_error",
        "connection",
        "timeout",
        "stream",
        "rejected",
        "deadline",
        "cancelled",
        "abandoned",
    ]
    message: str
    retry_after_s: float | None = None

    @property
    def hang(self) -> bool:
        """The model kept us waiting until a timeout, or until the caller gave up: it opens the circuit at once."""
        return self.kind in ("timeout", "cancelled")

    def summary(self) -> str:
        status = f"{self.status} " if self.status else ""
        return f"{status}{self.kind}: {self.message}"[:500]


CANCELLED = Failure(True, None, "cancelled", "the caller stopped waiting (its own deadline passed)")
"""An attempt still waiting on the model when the caller cancelled the call, after `hang_after_s`: a hang."""
ABANDONED = Failure(False, None, "abandoned", "the caller left before the model had been slow")
"""An attempt the caller cancelled sooner: billed, but no evidence against the model."""


def retry_after_seconds(headers: httpx2.Headers | None) -> float | None:
    """Read `retry-after-ms` or `retry-after` (seconds or an HTTP date) from a response."""
    if headers is None:
        return None
    if ms := headers.get("retry-after-ms"):
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def classify(exc: BaseException) -> Failure:
    """Say whether an attempt may be retried: only 408, 429, 5xx, connection errors and timeouts may."""
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        message = str(exc.message)[:300]
        if status == 429:
            return Failure(True, status, "rate_limited", message, retry_after_seconds(exc.response.headers))
        if status == 408:  # the server gave up waiting for our request: try again, but it answered, so no hang
            return Failure(True, status, "request_timeout", message, retry_after_seconds(exc.response.headers))
        if status >= 500:
            return Failure(
                status in RETRYABLE_STATUS or status >= 500,
                status,
                "server_error",
                message,
                retry_after_seconds(exc.response.headers),
            )
        return Failure(False, status, "rejected", message)
    # openai 3 speaks httpx2, and errors raised mid-stream arrive unwrapped.
    if isinstance(exc, openai.APITimeoutError | TimeoutError | httpx2.TimeoutException):
        return Failure(True, None, "timeout", type(exc).__name__)
    if isinstance(exc, openai.APIConnectionError | httpx2.TransportError | ConnectionError):
        return Failure(True, None, "connection", type(exc).__name__)
    if isinstance(exc, StreamBroken):
        return Failure(True, None, "stream", str(exc))
    if isinstance(exc, DeadlineExceeded):
        return Failure(False, None, "deadline", str(exc))
    if isinstance(exc, openai.APIResponseValidationError | ValueError):
        # The SDK could not decode what the server sent (e.g. a corrupt stream chunk).
        return Failure(True, None, "stream", f"{type(exc).__name__}: {exc}"[:300])
    raise exc


def make_http_client(config: GatewayConfig) -> httpx2.AsyncClient:
    """One pooled HTTP client per process, shared by the SDK and the LangChain chat model."""
    return httpx2.AsyncClient(
        timeout=httpx2.Timeout(config.read_timeout_s, connect=config.connect_timeout_s),
        # Drop an idle connection before the server does: uvicorn (vLLM, llama.cpp's proxies, our scripted
        # server) closes keep-alive connections after 5 s, and reusing one it is closing fails the request.
        limits=httpx2.Limits(max_connections=512, max_keepalive_connections=128, keepalive_expiry=4.0),
    )


def make_client(config: GatewayConfig, http_client: httpx2.AsyncClient) -> openai.AsyncOpenAI:
    """Build the SDK client with our timeouts and no SDK-side retries (ours replace them)."""
    return openai.AsyncOpenAI(
        base_url=config.base_url,
        api_key=config.api_key or "not-needed",
        max_retries=0,
        timeout=httpx2.Timeout(config.read_timeout_s, connect=config.connect_timeout_s),
        http_client=http_client,
    )


async def call_with_retries(
    attempt_once: Callable[[], Awaitable[R]],
    *,
    config: GatewayConfig,
    deadline_at: float,
    on_failure: Callable[[Failure, float], None],
) -> R:
    """Run `attempt_once` until it succeeds, a non-retryable failure, the attempt cap or the deadline.

    `on_failure(failure, latency_s)` sees every failed attempt, so each one can be billed and traced,
    including the one in flight when the caller cancels the call (`CANCELLED`, then the cancellation).
    A wait never ends before the server's Retry-After, and never runs past the deadline: if the
    server asks for longer than is left, we stop rather than retry early.
    """
    # A plain loop rather than tenacity's AsyncRetrying: that costs ~100 µs per call on the hot path,
    # a fifth of the gateway's whole overhead budget; tenacity still computes the backoff, once one is needed.
    backoff: wait_exponential_jitter | None = None
    attempt = 0
    while True:
        attempt += 1
        started = time.monotonic()
        try:
            remaining = deadline_at - started
            if remaining <= 0:
                raise DeadlineExceeded(f"deadline of {config.deadline_s:g}s passed")
            async with asyncio.timeout(remaining):
                return await attempt_once()
        except asyncio.CancelledError:
            # The caller stopped waiting (its own deadline, e.g. a turn's `asyncio.timeout`): bill the
            # attempt in flight as a hang and let the cancellation go on.
            waited = time.monotonic() - started
            on_failure(CANCELLED if waited >= config.hang_after_s else ABANDONED, waited)
            raise
        except Exception as exc:
            failure = classify(exc)
            on_failure(failure, time.monotonic() - started)
            if not failure.retryable or attempt >= config.max_attempts:
                raise
            if backoff is None:
                backoff = wait_exponential_jitter(
                    multiplier=config.backoff_initial_s, max=config.backoff_max_s, jitter=config.backoff_initial_s
                )
            delay = max(failure.retry_after_s or 0.0, backoff(_BackoffState(attempt)))  # pyright: ignore[reportArgumentType]  # duck-typed, see _BackoffState
            if time.monotonic() + delay >= deadline_at:
                raise
            await asyncio.sleep(delay)


@dataclass(frozen=True, slots=True)
class _BackoffState:
    """The one field of tenacity's RetryCallState that its wait strategies read."""

    attempt_number: int
