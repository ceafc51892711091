"""Send messages through the WhatsApp Cloud API (Graph API), retrying 429/5xx with backoff and Retry-After.

A request that went out and whose answer was lost (read timeout, dropped connection) is not retried: the Graph API
may have accepted it, and it takes no idempotency key, so a retry could reach the customer twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import structlog
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from hub.encryption import SecretBox, SecretError
from hub.settings import Settings

log = structlog.get_logger(__name__)

RETRYABLE_CODES = frozenset({4, 80007, 130429, 131056})
"""Graph API error codes that mean "too many requests" even when the HTTP status is 400."""
ANSWER_LOST = (httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError)
"""Transport errors raised once the whole request was written: the Graph API may have acted on it."""


class GraphApiError(Exception):
    """The Graph API refused a send, or never answered it."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: int | None = None,
        details: str | None = None,
        retry_after: float | None = None,
        maybe_sent: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        """HTTP status; None when the request got no answer (connection error, timeout)."""
        self.code = code
        self.details = details
        self.retry_after = retry_after
        self.maybe_sent = maybe_sent
        """The request went out and its answer was lost: the message may have been sent, so it is not retried."""

    @property
    def retryable(self) -> bool:
        """True for rate limits, server errors and a request that never reached the Graph API: the same send may
        work later."""
        if self.maybe_sent:
            return False
        return self.status is None or self.status == 429 or self.status >= 500 or self.code in RETRYABLE_CODES

    def as_error(self) -> dict[str, Any]:
        """Describe the failure the way delivery rows keep it: `{code, title, details?}`."""
        error: dict[str, Any] = {"code": self.code if self.code is not None else self.status, "title": str(self)}
        if self.details:
            error["details"] = self.details
        return error


class GraphApi:
    """A Graph API client for one worker: `send` posts one message and returns its `wamid`."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        base_url: str,
        max_attempts: int = 4,
        backoff_s: float = 0.5,
        backoff_max_s: float = 30.0,
        box: SecretBox | None = None,
    ) -> None:
        self.client = client
        self.box = box
        """Decrypts the access tokens accounts store encrypted; None: tokens are given in plaintext."""
        self.base_url = base_url.rstrip("/")
        self.max_attempts = max_attempts
        self.backoff_max_s = backoff_max_s
        self._backoff = wait_exponential_jitter(multiplier=backoff_s, max=backoff_max_s, jitter=backoff_s)

    async def send(self, *, phone_number_id: str, access_token: str, body: dict[str, Any]) -> str:
        """POST `body` to `/{phone_number_id}/messages` and return the new message's `wamid`.

        `access_token` as the account stores it (encrypted, or plaintext written by an older HUB): it is
        decrypted here, for this send only. Raises GraphApiError once a send is refused for good, or is still
        failing after the last try; a Retry-After longer than `backoff_max_s` ends the tries early so the caller
        can defer the send.
        """
        if self.box is not None:
            try:
                access_token = self.box.open(access_token)
            except SecretError as exc:  # no later try can read it either: refused for good, like a bad token
                raise GraphApiError(str(exc), status=401, details="decrypting the stored access token") from None
        url = f"{self.base_url}/{phone_number_id}/messages"
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.max_attempts) | self._retry_after_too_long,  # pyright: ignore[reportOperatorIssue]  # tenacity runs any callable as a stop; its types name stop_base
            wait=self._wait,
            retry=retry_if_exception(lambda exc: isinstance(exc, GraphApiError) and exc.retryable),
            before_sleep=self._log_retry,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._post(url, access_token, body)
        raise AssertionError("unreachable: tenacity either returns or re-raises")

    async def _post(self, url: str, access_token: str, body: dict[str, Any]) -> str:
        try:
            response = await self.client.post(url, json=body, headers={"Authorization": f"Bearer {access_token}"})
        except httpx.TransportError as exc:
            lost = isinstance(exc, ANSWER_LOST)
            raise GraphApiError(f"no answer from the Graph API: {type(exc).__name__}", maybe_sent=lost) from exc
        data = _json(response)
        if response.is_success:
            try:
                return str(data["messages"][0]["id"])
            except (KeyError, IndexError, TypeError) as exc:
                raise GraphApiError("the Graph API answered without a message id", status=response.status_code) from exc
        error = data.get("error")
        if not isinstance(error, dict):
            error = {}
        error_data = error.get("error_data")
        details = error_data.get("details") if isinstance(error_data, dict) else None
        raise GraphApiError(
            str(error.get("message") or response.reason_phrase or f"HTTP {response.status_code}"),
            status=response.status_code,
            code=error.get("code") if isinstance(error.get("code"), int) else None,
            details=details,
            retry_after=_retry_after(response.headers.get("Retry-After")),
        )

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, GraphApiError) and exc.retry_after is not None:
            return exc.retry_after
        return self._backoff(state)

    def _retry_after_too_long(self, state: RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome else None
        return isinstance(exc, GraphApiError) and (exc.retry_after or 0) > self.backoff_max_s

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning(
            "whatsapp_send_retry",
            attempt=state.attempt_number,
            status=getattr(exc, "status", None),
            code=getattr(exc, "code", None),
            wait_s=round(state.upcoming_sleep, 2),
        )


@asynccontextmanager
async def open_graph_api(settings: Settings) -> AsyncIterator[GraphApi]:
    """Yield a client configured from settings; its connections close on exit."""
    async with httpx.AsyncClient(timeout=settings.whatsapp_timeout_s) as client:
        yield GraphApi(
            client,
            base_url=settings.whatsapp_api_base,
            max_attempts=settings.whatsapp_max_attempts,
            backoff_s=settings.whatsapp_backoff_s,
            backoff_max_s=settings.whatsapp_backoff_max_s,
            box=SecretBox(settings.secret_key.get_secret_value()),
        )


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _retry_after(value: str | None) -> float | None:
    """Read Retry-After as seconds or as an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
