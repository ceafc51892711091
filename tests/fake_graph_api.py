"""A stand-in for the WhatsApp Cloud API over real HTTP: records every send, fails on cue, answers with wamids.

    with FakeGraphApi() as graph:
        graph.fail(429, retry_after=1)          # the next request is rate limited, the one after succeeds
        settings = Settings(whatsapp_api_base=graph.base_url, ...)
        sends = await graph.wait_for_sends(1)

`POST /{phone_number_id}/messages` answers `{"messages": [{"id": "wamid.<n>"}]}` unless a scripted failure is
queued; `requests` has every attempt, `sends` only the accepted ones. `hold()` accepts the next send but keeps
its answer until `release()`: the Graph API acted on it, and the sender has not heard. The server runs in a
thread, so it answers while the test's event loop waits.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

_ERROR_CODES = {429: 130429, 500: 1, 502: 1, 503: 2}


@dataclass(frozen=True)
class Failure:
    status: int
    code: int
    retry_after: float | None = None


@dataclass(frozen=True)
class GraphRequest:
    phone_number_id: str
    authorization: str
    body: dict[str, Any]
    received_at: float
    """time.monotonic() when the request arrived."""
    wamid: str | None = None
    """The id answered; None when a scripted failure answered."""

    @property
    def to(self) -> str:
        return str(self.body.get("to"))

    @property
    def text(self) -> str | None:
        return (self.body.get("text") or {}).get("body")

    @property
    def template(self) -> str | None:
        return (self.body.get("template") or {}).get("name")


@dataclass
class FakeGraphApi:
    """A local Graph API on 127.0.0.1 with a scripted failure queue."""

    host: str = "127.0.0.1"
    _failures: deque[Failure] = field(default_factory=deque)
    _requests: list[GraphRequest] = field(default_factory=list)
    _holds: int = 0
    _released: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeGraphApi is not running")
        return f"http://{self.host}:{self._server.server_address[1]}/v21.0"

    def start(self) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                fake._answer(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((self.host, 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-graph-api", daemon=True)
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        self._released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(10)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return self.__enter__()

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.stop)

    # --- script and observations ---------------------------------------------------------------------

    def fail(self, status: int, *, times: int = 1, retry_after: float | None = None, code: int | None = None) -> None:
        """Answer the next `times` requests with HTTP `status` and a Graph API error body."""
        with self._lock:
            for _ in range(times):
                self._failures.append(Failure(status, code or _ERROR_CODES.get(status, 100), retry_after))

    def hold(self, *, times: int = 1) -> None:
        """Accept the next `times` sends (they are in `sends`) and keep their answers until `release()`."""
        with self._lock:
            self._holds += times
            self._released.clear()

    def release(self) -> None:
        """Answer the held sends (to whoever still listens)."""
        self._released.set()

    @property
    def requests(self) -> list[GraphRequest]:
        """Every request, failed attempts included, in arrival order."""
        with self._lock:
            return list(self._requests)

    @property
    def sends(self) -> list[GraphRequest]:
        """The requests answered with a wamid: what reached the customer."""
        return [r for r in self.requests if r.wamid is not None]

    async def wait_for_sends(self, count: int, *, within_s: float = 20.0) -> list[GraphRequest]:
        """Wait until at least `count` sends were accepted; fail after `within_s`."""
        deadline = time.monotonic() + within_s
        while len(sends := self.sends) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} sends within {within_s}s, got {len(sends)}: {sends}")
            await asyncio.sleep(0.05)
        return sends

    # --- serving -------------------------------------------------------------------------------------

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        parts = handler.path.strip("/").split("/")
        length = int(handler.headers.get("Content-Length") or 0)
        try:
            body = json.loads(handler.rfile.read(length) or b"{}")
        except ValueError:
            body = {}
        if len(parts) != 3 or parts[2] != "messages":
            self._respond(handler, 404, {"error": {"message": f"Unknown path {handler.path}", "code": 803}})
            return
        with self._lock:
            failure = self._failures.popleft() if self._failures else None
            wamid = None if failure else f"wamid.FAKE{len(self._requests) + 1:06d}"
            held = wamid is not None and self._holds > 0
            self._holds -= held
            self._requests.append(
                GraphRequest(
                    phone_number_id=parts[1],
                    authorization=handler.headers.get("Authorization", ""),
                    body=body,
                    received_at=time.monotonic(),
                    wamid=wamid,
                )
            )
        if failure is not None:
            headers = {"Retry-After": f"{failure.retry_after:g}"} if failure.retry_after is not None else {}
            error = {"message": f"scripted failure {failure.status}", "type": "OAuthException", "code": failure.code}
            self._respond(handler, failure.status, {"error": error}, headers)
            return
        if held:
            self._released.wait(120)
        answer = {
            "messaging_product": "whatsapp",
            "contacts": [{"input": body.get("to"), "wa_id": body.get("to")}],
            "messages": [{"id": wamid}],
        }
        try:
            self._respond(handler, 200, answer)
        except OSError:  # a held answer's sender gave up (timed out, or was killed)
            pass

    @staticmethod
    def _respond(
        handler: BaseHTTPRequestHandler, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        raw = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(raw)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(raw)
