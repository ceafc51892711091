"""Define every Prometheus metric of the project, once, and the calls that update them.

All metrics live in prometheus_client's default registry, created when this module is first imported, so
building many apps in one process never registers a metric twice. The API serves them at `GET /metrics`; a
separate worker process serves its own on `HUB_METRICS_PORT` (`serve_metrics`).
"""

from __future__ import annotations

import asyncio
from collections import Counter as Tally
from collections.abc import Generator, Mapping
from contextlib import contextmanager
from functools import cache, lru_cache
from typing import Any, Protocol

import structlog
from prometheus_client import Counter, Gauge, Histogram, start_http_server

from hub.db.models import UsageOutcome

log = structlog.get_logger(__name__)

QUEUE_READ_TIMEOUT_S = 2.0
"""Longest `/metrics` waits for Redis before it answers with the queue gauges it had."""
_SECONDS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0)
"""Turns and model calls run from tens of milliseconds to the gateway's deadline (60 s by default)."""

HTTP_REQUESTS = Counter("hub_http_requests_total", "HTTP requests", ["method", "route", "status"])
HTTP_LATENCY = Histogram("hub_http_request_duration_seconds", "HTTP request latency", ["method", "route"])

TURNS = Counter("hub_turns_total", "Conversation turns answered", ["channel", "audience", "engine"])
TURN_SECONDS = Histogram(
    "hub_turn_seconds", "Time to answer one turn", ["channel", "audience", "engine"], buckets=_SECONDS_BUCKETS
)

MODEL_CALLS = Counter(
    "hub_model_calls_total",
    "Usage-ledger rows: model attempts, image rounds and deterministic fallbacks, by outcome",
    ["feature", "model", "outcome"],
)
MODEL_RETRIES = Counter(
    "hub_model_retries_total",
    "Model attempts after the first of a call: transport retries, re-asks and switches to the next model",
    ["feature", "model"],
)
FALLBACKS = Counter(
    "hub_fallbacks_total", "Calls answered by the deterministic fallback instead of a model", ["feature"]
)
VALIDATION_FAILURES = Counter(
    "hub_validation_failures_total",
    "Model answers rejected by parsing, the schema or a validator",
    ["feature", "model"],
)
COST = Counter("hub_cost_usd_total", "USD billed to a tenant, by feature", ["tenant", "feature"])
MODEL_LATENCY = Histogram(
    "hub_model_latency_seconds",
    "Time of one model attempt or image round",
    ["feature", "model"],
    buckets=_SECONDS_BUCKETS,
)

WEBHOOK_DEDUPES = Counter(
    "hub_webhook_dedupes_total", "Redelivered webhook events dropped by the idempotency ledger", ["source"]
)
WEBHOOK_MALFORMED = Counter(
    "hub_webhook_malformed_total",
    "Malformed parts of signed webhook bodies dropped while the rest was handled (body, entry, change, contact, "
    "message, status)",
    ["source", "part"],
)
DELIVERIES_UNCONFIRMED = Counter(
    "hub_deliveries_unconfirmed_total",
    "Sends whose outcome is unknown (the worker stopped, or the answer was lost, after the request went out): "
    "never sent again, left for the channel's status webhooks to confirm",
    ["channel"],
)

SHOP_EVENT_DELIVERIES = Counter(
    "hub_shop_event_deliveries_total",
    "Deliveries of events to shops' webhooks, by outcome: delivered, failed (retried later), dead (no tries "
    "left), skipped (no webhook URL, or the shop is inactive)",
    ["outcome"],
)

AUTH_FAILURES = Counter(
    "hub_auth_failures_total", "Failed console sign-ins (password) and invalid API keys (api_key)", ["kind"]
)
AUTH_THROTTLED = Counter(
    "hub_auth_throttled_total",
    "Sign-ins and keyed requests refused unchecked (429) while their email or address waits or is locked out",
    ["kind"],
)
AUTH_LOCKOUTS = Counter(
    "hub_auth_lockouts_total",
    "Lockouts started, by what was guessed and who is locked (account, client)",
    ["kind", "scope"],
)

QUEUE_DEPTH = Gauge("hub_queue_depth", "Jobs waiting, delayed or running on a queue, read at scrape time", ["queue"])
QUEUE_DEAD = Gauge("hub_queue_dead", "Dead-lettered jobs still kept (newest first, capped), by queue", ["queue"])


def observe_turn(*, channel: str, audience: str, engine: str, seconds: float) -> None:
    """Count one answered turn and how long it took."""
    TURNS.labels(channel, audience, engine).inc()
    TURN_SECONDS.labels(channel, audience, engine).observe(seconds)


@cache
def _model_series(feature: str, model: str, outcome: str) -> tuple[Counter, Histogram, Counter]:
    """The series a kind of ledger row updates, looked up once: `labels()` costs microseconds on every model call."""
    return (
        MODEL_CALLS.labels(feature, model, outcome),
        MODEL_LATENCY.labels(feature, model),
        MODEL_RETRIES.labels(feature, model),
    )


def observe_usage(row: Mapping[str, Any]) -> None:
    """Count one usage-ledger row (a `UsageRecord`'s columns): its call, retry, fallback, rejection, cost, latency."""
    feature, model, outcome = row["feature"], row["model"], str(row["outcome"])
    calls, latency, retries = _model_series(feature, model, outcome)
    calls.inc()
    if outcome == UsageOutcome.FALLBACK:
        FALLBACKS.labels(feature).inc()
    else:
        latency.observe(row["latency_ms"] / 1000)
        if row["attempt"] > 1:
            retries.inc()
    if outcome == UsageOutcome.INVALID_OUTPUT:
        VALIDATION_FAILURES.labels(feature, model).inc()
    if row["cost"]:
        _cost_series(row["tenant_id"], feature).inc(float(row["cost"]))


@lru_cache(maxsize=4096)
def _cost_series(tenant_id: object, feature: str) -> Counter:
    return COST.labels(str(tenant_id), feature)


def observe_reply_rejected(*, feature: str, model: str, gave_up: bool) -> None:
    """Count a drafted reply the reply validator rejected (a valid call, an ungrounded answer), and the
    deterministic fallback that answers when the re-asks are used up: neither writes a ledger row of its own."""
    VALIDATION_FAILURES.labels(feature, model).inc()
    if gave_up:
        FALLBACKS.labels(feature).inc()


def observe_webhook_dedupe(source: str) -> None:
    """Count a webhook event dropped because an earlier delivery of it was already processed."""
    WEBHOOK_DEDUPES.labels(source).inc()


def observe_webhook_malformed(source: str, part: str) -> None:
    """Count a malformed part of a signed webhook body, dropped (the whole body when it is not JSON)."""
    WEBHOOK_MALFORMED.labels(source, part).inc()


def observe_delivery_unconfirmed(channel: str) -> None:
    """Count a send that may or may not have reached the customer, and will not be sent again."""
    DELIVERIES_UNCONFIRMED.labels(channel).inc()


def observe_shop_event_delivery(outcome: str) -> None:
    """Count one try to deliver an event to a shop's webhook, by how it ended."""
    SHOP_EVENT_DELIVERIES.labels(outcome).inc()


class QueueReadings(Protocol):
    """What the queue gauges read from a job queue (`hub.jobs.JobQueue` has both)."""

    async def depths(self) -> dict[str, int]: ...

    async def dead_letters(self) -> list[dict[str, Any]]: ...


async def refresh_queue_gauges(jobs: QueueReadings) -> None:
    """Read the depth and dead letters of `jobs` and its linked queues from Redis into the queue gauges.

    A scrape must not fail because Redis is slow or down: the gauges then keep their last values.
    """
    try:
        async with asyncio.timeout(QUEUE_READ_TIMEOUT_S):
            depths = await jobs.depths()
            dead = Tally(entry.get("queue") for entry in await jobs.dead_letters())
    except Exception as exc:  # whatever the Redis client raises, the scrape still answers
        log.warning("queue_metrics_unavailable", error=repr(exc))
        return
    for queue, depth in depths.items():
        QUEUE_DEPTH.labels(queue).set(depth)
        QUEUE_DEAD.labels(queue).set(dead[queue])


@contextmanager
def serve_metrics(port: int, *, host: str = "0.0.0.0") -> Generator[int]:
    """Serve this process's metrics at `http://host:port/metrics` in a thread until the block ends; yield the port.

    For worker processes, which have no HTTP app; port 0 picks a free one.
    """
    server, thread = start_http_server(port, addr=host)
    log.info("metrics_serving", host=host, port=server.server_port)
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
