"""Load `POST /webhooks/whatsapp` beside a bare 200 route; count the replies that were lost or sent twice.

Everything runs as real processes on this machine: `hub serve` on a fresh Postgres database (created here,
dropped at the end) and a Redis database index of its own (emptied before and after), with the channel work in
`--workers` separate `hub worker channels` processes (a set HUB_REDIS_URL keeps workers out of the server); a
fake Graph API (`tests/fake_graph_api.py`) that records every reply; a bare FastAPI app whose one route only
returns 200, under the same uvicorn settings as `hub serve`; and an open-loop load generator in a process of its
own (`bench/open_loop.py`, aiohttp).

1. The same schedule of signed bodies (Meta's wire format from the shared fixtures; `X-Hub-Signature-256` is the
   HMAC-SHA256 of the raw bytes with the demo shop's app secret) goes to the bare route, then to the webhook, at
   `--rate` POSTs a second for `--duration` seconds: p50/p99 latency from each request's scheduled send time,
   achieved RPS, errors, and the webhook/bare ratios. As in Meta's traffic, most POSTs are delivery statuses
   (sent, delivered, read: `--status-fraction`); `--batch-fraction` of the message POSTs carry 2-5 messages;
   `--dup-fraction` of all POSTs re-send an earlier body byte for byte 0-2 s later, as Meta redelivers.
2. Halfway through the webhook run one worker is SIGKILLed and a replacement started. With `--workers 0` nothing
   takes the jobs: the webhook is timed without workers competing for the CPUs, and no replies are counted.
3. After the load the job queue gets `--drain-timeout` seconds to empty. Each unique message comes from a customer
   number of its own and asks a plain shop question, so the replies the fake Graph API recorded to that number
   are the replies to that message: none is lost, more than one duplicated. Replies left `unconfirmed` (claimed
   by the killed worker, its answer never recorded: never sent again) are counted from the app's tables; one that
   the fake Graph API never received is also among the lost.

Goals (reported, not asserted), each figure printed beside the bare route's in the same run: alone
(`--workers 0`), the webhook costs ≤ 0.5 ms of server CPU per POST and answers 500 rps with p99 ≤ 20 ms; with the
workers on the same box, p99 ≤ 50 ms at 500 rps, replies p99 ≤ 2 s, 0 lost, 0 duplicated with a worker SIGKILLed
mid-run, and the workers spend ≤ 4 ms of CPU per message (an upper bound: statuses counted in).

    python -m bench.webhook_load [--rate 500] [--duration 20] [--quick] [--logs DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import hashlib
import hmac
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
import psycopg
import redis
from sqlalchemy.engine import make_url

from chat_ui.whatsapp.constants import SIGNATURE_HEADER
from hub.constants import WORKER_HEARTBEAT
from hub.jobs import JobQueue
from hub.settings import Settings
from hub.usage.rollup import nearest_rank
from hub.workers import WorkerKind
from tests.fake_graph_api import FakeGraphApi
from tests.processes import free_port, hub

WEBHOOK_PATH = "/webhooks/whatsapp"
GOAL_P99_MS = 50.0
"""With the channel workers on the same box."""
GOAL_ALONE_P99_MS = 20.0
"""The webhook alone (`--workers 0`)."""
GOAL_RATE = 500
GOAL_SERVER_CPU_MS = 0.5
"""Server CPU per webhook POST."""
GOAL_REPLY_P99_S = 2.0
GOAL_WORKER_CPU_MS = 4.0
"""Channel workers' CPU per message answered."""
PG_ADMIN_URL = os.environ.get("HUB_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = "redis://127.0.0.1:6379/14"
"""A database index of the bench's own: the service tests use 9, and the bench empties this one."""
_SHARED = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "whatsapp"
FIXTURES = Path(
    os.environ.get(
        "HUB_TEST_WHATSAPP_FIXTURES", _SHARED if _SHARED.is_dir() else Path("/work/shared/fixtures/whatsapp")
    )
)
"""Meta's reference payloads, read from the shared folder next to the checkout, never copied in."""
TEXTS = (
    "hi there",
    "do you have any hoodies under $80",
    "looking for black chelsea boots size 42",
    "is the organic cotton crew tee in stock in M?",
    "how long do refunds take",
    "do you ship to canada",
    "what sizes does the merino sweater come in?",
    "any rain jackets on sale?",
)
"""Questions the deterministic engine answers with one reply each: no opt-out keyword, no handoff."""
STATUSES = ("sent", "delivered", "read")
REDELIVERY_WINDOW_S = 2.0
WARMUP_POSTS = 20
STOP_GRACE_S = 20.0
SETTLED_S = 10.0
"""An empty queue with the same replies missing for this long is done: a reply left `unconfirmed` never comes."""
LATE_REPLY_S = 60.0
SERVICES = ("postgres", "redis-server")
"""Shared servers whose CPU the bench reports beside its own processes'."""
SERVICE_SCAN_S = 1.0
_IDS = re.compile(r"\b[0-9a-f]{8,}\b")
"""Task and worker ids in log events, blanked so that like events count together."""
Route = Literal["bare", "webhook"]


def progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# --- the schedule ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Post:
    """One signed webhook POST in the schedule."""

    at: float
    """Seconds after the run starts when it is sent."""
    body: bytes
    signature: str
    senders: tuple[str, ...] = ()
    """The customer numbers whose messages it carries; none for a status update."""
    redelivery: bool = False


@dataclass
class Plan:
    """The schedule both routes get, and which messages it carries."""

    posts: list[Post] = field(default_factory=list)
    first_at: dict[str, float] = field(default_factory=dict)
    """Each unique message's sender → when its first POST is scheduled."""

    @property
    def senders(self) -> list[str]:
        return list(self.first_at)

    @property
    def redeliveries(self) -> int:
        return sum(p.redelivery for p in self.posts)

    @property
    def batched(self) -> int:
        return sum(len(p.senders) > 1 and not p.redelivery for p in self.posts)

    @property
    def statuses(self) -> int:
        return sum(not p.senders and not p.redelivery for p in self.posts)


class Bodies:
    """Build signed one-change webhooks to the demo shop's number from Meta's reference payloads.

    Every message comes from a customer number of its own; status updates are about replies to recent senders.
    """

    def __init__(self, fixtures: Path, *, phone_number_id: str, app_secret: str, run: str) -> None:
        self.templates = {
            name: json.loads((fixtures / f"{name}.json").read_text())
            for name in ("text_message", "status_sent", "status_delivered")
        }
        self.phone_number_id = phone_number_id
        self.app_secret = app_secret
        self.run = run
        self.count = 0

    def messages(self, at: float, count: int, rng: random.Random) -> Post:
        payload, value = self._payload("text_message")
        contact, message = value["contacts"][0], value["messages"][0]
        value["contacts"], value["messages"] = [], []
        senders = []
        for _ in range(count):
            self.count += 1
            sender = f"1999{self.count:08d}"
            senders.append(sender)
            value["contacts"].append({**contact, "wa_id": sender, "profile": {"name": f"Bench {self.count}"}})
            value["messages"].append(
                {
                    **message,
                    "from": sender,
                    "id": f"wamid.BENCH{self.run}{self.count:08d}",
                    "timestamp": str(int(time.time())),
                    "type": "text",
                    "text": {"body": rng.choice(TEXTS)},
                }
            )
        return self._signed(at, payload, tuple(senders))

    def status(self, at: float, recipient: str, rng: random.Random) -> Post:
        name = rng.choice(STATUSES)
        payload, value = self._payload("status_sent" if name == "sent" else "status_delivered")
        value["contacts"][0]["wa_id"] = recipient
        value["statuses"][0].update(
            {
                "id": f"wamid.OUT{self.run}{recipient}",
                "status": name,
                "recipient_id": recipient,
                "timestamp": str(int(time.time())),
            }
        )
        return self._signed(at, payload, ())

    def _payload(self, template: str) -> tuple[dict[str, Any], dict[str, Any]]:
        payload = copy.deepcopy(self.templates[template])
        value = payload["entry"][0]["changes"][0]["value"]
        value["metadata"]["phone_number_id"] = self.phone_number_id
        return payload, value

    def _signed(self, at: float, payload: dict[str, Any], senders: tuple[str, ...]) -> Post:
        body = json.dumps(payload, separators=(",", ":")).encode()
        signature = "sha256=" + hmac.new(self.app_secret.encode(), body, hashlib.sha256).hexdigest()
        return Post(at=at, body=body, signature=signature, senders=senders)


def build_plan(
    bodies: Bodies,
    *,
    rate: float,
    duration: float,
    status_fraction: float,
    batch_fraction: float,
    dup_fraction: float,
    seed: int,
) -> Plan:
    """POSTs evenly spaced at `rate`: statuses, single and batched messages, and redeliveries of recent bodies."""
    rng = random.Random(seed)
    plan = Plan()
    senders: list[str] = []
    window = max(1, int(rate * REDELIVERY_WINDOW_S))
    for i in range(int(rate * duration)):
        at = i / rate
        recent = [p for p in plan.posts[-window:] if not p.redelivery]
        if recent and rng.random() < dup_fraction:
            original = rng.choice(recent)
            plan.posts.append(Post(at, original.body, original.signature, original.senders, redelivery=True))
        elif senders and rng.random() < status_fraction:
            recipient = rng.choice(senders[-window:])
            plan.posts.append(bodies.status(at, recipient, rng))
        else:
            post = bodies.messages(at, rng.randint(2, 5) if rng.random() < batch_fraction else 1, rng)
            plan.posts.append(post)
            plan.first_at.update(dict.fromkeys(post.senders, at))
            senders.extend(post.senders)
    return plan


def write_plan(plan: Plan, path: Path) -> None:
    with path.open("w") as out:
        for post in plan.posts:
            headers = {"Content-Type": "application/json", SIGNATURE_HEADER: post.signature}
            out.write(json.dumps({"at": post.at, "body": post.body.decode(), "headers": headers}) + "\n")


# --- processes and services --------------------------------------------------------------------------


class Processes:
    """Every subprocess the bench starts, logging to files, stopped on exit whatever happened."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        with (self.logs / f"{name}.log").open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, *args], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.running[name] = proc
        return proc

    def kill(self, name: str) -> None:
        proc = self.running.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def stop_all(self) -> None:
        for proc in self.running.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + STOP_GRACE_S
        for proc in self.running.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.running.clear()

    def wait_up(self, name: str, url: str, within_s: float = 120.0) -> None:
        """Wait for `url` to answer; fail with the process's last log lines if it exits or never answers."""
        proc, deadline = self.running[name], time.monotonic() + within_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{self.log_tail(name)}")
            try:
                httpx.get(url, timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.2)
        raise RuntimeError(f"{name} did not answer {url} within {within_s:.0f} s:\n{self.log_tail(name)}")

    def show_logs(self, lines: int = 15) -> None:
        """Print the end of every process's log to stderr: what a failed run leaves to go on."""
        for path in sorted(self.logs.glob("*.log")):
            progress(f"--- {path.name} (last {lines} lines)\n{self.log_tail(path.stem, lines)}")

    def log_tail(self, name: str, lines: int = 20) -> str:
        path = self.logs / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


class Workers:
    """The `hub worker channels` processes: started, killed on purpose, restarted when one exits by itself.

    A worker that exits by itself is started again, as a process supervisor would, and the exit is reported.
    """

    def __init__(self, procs: Processes, env: dict[str, str]) -> None:
        self.procs = procs
        self.env = env
        self.started = 0
        self.killed: list[str] = []
        self.exits: list[str] = []
        """`name: exit code, last log line` for every worker that stopped without being killed."""

    @property
    def names(self) -> list[str]:
        return [name for name in self.procs.running if name.startswith("worker-")]

    def pids(self) -> dict[str, int]:
        return {name: self.procs.running[name].pid for name in self.names}

    def start(self) -> str:
        self.started += 1
        name = f"worker-{self.started}"
        self.procs.start(name, ["-m", "hub", "worker", WorkerKind.CHANNELS.value], self.env)
        return name

    def kill_one(self) -> None:
        victim = self.names[0]
        self.procs.kill(victim)
        self.killed.append(victim)
        progress(f"  SIGKILLed {victim}, started {self.start()}")

    def supervise(self) -> None:
        for name in self.names:
            code = self.procs.running[name].poll()
            if code is None:
                continue
            del self.procs.running[name]
            last = self.procs.log_tail(name, 1).strip()[:160]
            self.exits.append(f"{name}: exit {code}, {last}")
            progress(f"  {name} exited by itself ({code}: {last}); started {self.start()}")

    def wait_live(self, redis_url: str, count: int, within_s: float = 180.0) -> None:
        """Wait until `count` workers heartbeat in Redis, restarting any that exit on the way up."""
        deadline = time.monotonic() + within_s
        while live_workers(redis_url) < count:
            self.supervise()
            if time.monotonic() > deadline:
                raise RuntimeError(f"{count} channel workers were not up within {within_s:.0f} s")
            time.sleep(0.2)


def live_workers(redis_url: str) -> int:
    with redis.Redis.from_url(redis_url) as client:
        return sum(1 for _ in client.scan_iter(match=f"{WORKER_HEARTBEAT}:{WorkerKind.CHANNELS}:*"))


@contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    """Create an empty Postgres database for this run and drop it afterwards; yield its URL."""
    name = f"hub_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin_dsn = make_url(admin_url).render_as_string(hide_password=False)
    with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def own_redis_db(url: str) -> Iterator[str]:
    """Use a Redis database index that nothing else uses, emptied before and after, as the service tests do."""
    client = redis.Redis.from_url(url, socket_connect_timeout=3)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


def serve_bare(port: int) -> None:
    """Serve one route that only answers 200, with the uvicorn settings `hub serve` uses."""
    import uvicorn
    from fastapi import FastAPI, Response

    app = FastAPI()

    @app.post(WEBHOOK_PATH)
    async def receive() -> Response:
        return Response(status_code=200)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    uvicorn.run(app, host="127.0.0.1", port=port, log_config=None, access_log=False)


# --- measuring ---------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds the process has used so far (Linux /proc), 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies across all CPUs since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


class CpuMeter:
    """CPU the watched processes use from now until `shares()`, as a share of one core; call `sample()` often.

    A process that appears later counts from zero; one that dies keeps what it used until then. The shared
    servers (every `postgres` backend, `redis-server`) are counted too, whoever their clients are.
    """

    def __init__(self, watched: Callable[[], dict[str, int]]) -> None:
        self.watched = watched
        self.first: dict[str, float] = {name: cpu_seconds(pid) for name, pid in watched().items()}
        self.last = dict(self.first)
        self.services: dict[int, tuple[str, float, float]] = {}
        """pid → (name, CPU seconds when first seen, latest)."""
        self.others: set[int] = set()
        self._scan_services(first=True)
        self.busy = machine_busy()
        self.started = time.monotonic()
        self.scanned = self.started

    def sample(self, **extra: int) -> None:
        for name, pid in {**self.watched(), **extra}.items():
            self.last[name] = max(self.last.get(name, 0.0), cpu_seconds(pid))
        if time.monotonic() - self.scanned >= SERVICE_SCAN_S:
            self._scan_services()
            self.scanned = time.monotonic()

    def seconds(self) -> dict[str, float]:
        """CPU seconds each watched process used from the start until the last `sample()`."""
        return {name: used - self.first.get(name, 0.0) for name, used in self.last.items()}

    def shares(self) -> dict[str, float]:
        """Each process's share of one core, and `machine`: how busy all CPUs were (0-1)."""
        self._scan_services()
        elapsed = max(1e-9, time.monotonic() - self.started)
        shares = {name: (used - self.first.get(name, 0.0)) / elapsed for name, used in self.last.items()}
        for name, first, last in self.services.values():
            shares[f"{name} (shared)"] = shares.get(f"{name} (shared)", 0.0) + (last - first) / elapsed
        busy = machine_busy()
        shares["machine"] = (busy[0] - self.busy[0]) / max(1, busy[1] - self.busy[1])
        return shares

    def _scan_services(self, *, first: bool = False) -> None:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or (pid := int(entry.name)) in self.others:
                continue
            if pid in self.services:
                name, start, last = self.services[pid]
                self.services[pid] = (name, start, max(last, cpu_seconds(pid)))
                continue
            try:
                comm = (entry / "comm").read_text().strip()
            except OSError:
                continue
            if comm not in SERVICES:
                self.others.add(pid)
                continue
            used = cpu_seconds(pid)
            self.services[pid] = (comm, used if first else 0.0, used)


@dataclass(frozen=True)
class Phase:
    """One route's run: throughput, latency from the scheduled send time, errors and CPU."""

    route: Route
    target_rps: float
    posts: int
    ok: int
    errors: dict[str, int]
    """Non-2xx answers by status, and `no answer` (refused, reset, timeout)."""
    p50_ms: float
    p99_ms: float
    achieved_rps: float
    lag_p99_ms: float
    """How late the generator sent, p99: the generator was the limit when this is large."""
    cpu: dict[str, float]
    cpu_s: dict[str, float]
    """CPU seconds per watched process."""
    start: float
    """The generator's time.monotonic() at second 0 of the plan."""
    statuses: list[int]
    """Each POST's HTTP status in plan order, 0 for no answer."""


def run_load(
    procs: Processes,
    route: Route,
    url: str,
    plan_file: Path,
    tmp: Path,
    *,
    rate: float,
    connections: int,
    watched: Callable[[], dict[str, int]],
    tick: Callable[[], None],
    midway: tuple[float, Callable[[], None]] | None = None,
) -> Phase:
    """Run the generator process against `url`, calling `tick()` often and `midway[1]()` at second `midway[0]`."""
    results = tmp / f"results-{route}.json"
    args = ["-m", "bench.open_loop", str(plan_file), str(results), "--url", url, "--connections", str(connections)]
    gen = subprocess.Popen([sys.executable, *args], start_new_session=True)
    procs.running[f"generator-{route}"] = gen
    meter = CpuMeter(watched)
    started = time.monotonic()
    try:
        while gen.poll() is None:
            if midway is not None and time.monotonic() - started >= midway[0]:
                midway[1]()
                midway = None
            tick()
            meter.sample(generator=gen.pid)
            time.sleep(0.05)
    finally:
        procs.running.pop(f"generator-{route}", None)
        if gen.poll() is None:
            gen.kill()
            gen.wait()
    if gen.returncode != 0:
        raise RuntimeError(f"the load generator failed on the {route} run (exit {gen.returncode})")
    output = json.loads(results.read_text())
    return summarise(route, rate, output["shots"], meter, output["start"])


def summarise(route: Route, rate: float, shots: list[list[float]], meter: CpuMeter, start: float) -> Phase:
    ok_latencies = sorted(s[2] * 1000 for s in shots if 200 <= s[3] < 300)
    errors: Counter[str] = Counter()
    for *_, status in shots:
        if not 200 <= status < 300:
            errors["no answer" if status == 0 else str(int(status))] += 1
    last_answer = max((s[0] + s[2] for s in shots), default=0.0)
    lags = sorted(s[1] * 1000 for s in shots)
    return Phase(
        route=route,
        target_rps=rate,
        posts=len(shots),
        ok=len(ok_latencies),
        errors=dict(errors),
        p50_ms=nearest_rank(ok_latencies, 50) if ok_latencies else float("nan"),
        p99_ms=nearest_rank(ok_latencies, 99) if ok_latencies else float("nan"),
        achieved_rps=len(ok_latencies) / last_answer if last_answer else 0.0,
        lag_p99_ms=nearest_rank(lags, 99) if lags else 0.0,
        cpu=meter.shares(),
        cpu_s=meter.seconds(),
        start=start,
        statuses=[int(s[3]) for s in shots],
    )


def jobs_handled(logs: Path) -> dict[str, int]:
    """WhatsApp jobs each worker finished, from its log: a worker that heartbeats but handles nothing shows here."""
    return {
        path.stem: path.read_text(errors="replace").count('"event": "whatsapp_events_handled"')
        for path in sorted(logs.glob("worker-*.log"), key=lambda p: int(p.stem.split("-")[1]))
    }


def log_problems(logs: Path) -> Counter[str]:
    """Warnings, errors, tracebacks and 5xx answers in every process's log, as `process: what` → count."""
    found: Counter[str] = Counter()
    for path in sorted(logs.glob("*.log")):
        for line in path.read_text(errors="replace").splitlines():
            if not line.startswith("{"):
                if line.startswith(("Traceback", "╭─")):
                    found[f"{path.stem}: traceback"] += 1
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            level = entry.get("level", "")
            if level in ("warning", "error", "critical"):
                event = _IDS.sub("…", str(entry.get("event")).strip().splitlines()[0])[:100]
                found[f"{path.stem}: {level} {event}"] += 1
            elif entry.get("event") == "request" and int(entry.get("status", 200)) >= 500:
                found[f"{path.stem}: HTTP {entry['status']} {entry.get('path')}"] += 1
    return found


@dataclass(frozen=True)
class Replies:
    """The replies the fake Graph API recorded once the queue drained (or the wait ran out)."""

    expected: int
    unanswered: list[str]
    """Senders with no reply: lost if the queue drained, perhaps only late if it did not."""
    duplicated: dict[str, int]
    """Sender → replies recorded, for senders with more than one."""
    unacknowledged: int
    """Replies to messages left out of the count because none of their POSTs got a 2xx: the app took them anyway."""
    stray: int
    """Sends to numbers the bench never wrote from."""
    drain_s: float
    drained: bool
    queue_left: int
    dead_letters: list[dict[str, Any]]
    cpu: dict[str, float]
    cpu_s: dict[str, float]


def first_replies(graph: FakeGraphApi) -> tuple[Counter[str], dict[str, float]]:
    """Replies per recipient, and when the first reply to each arrived (time.monotonic())."""
    counts: Counter[str] = Counter()
    first: dict[str, float] = {}
    for send in graph.sends:
        counts[send.to] += 1
        first.setdefault(send.to, send.received_at)
    return counts, first


async def drain(
    settings: Settings,
    graph: FakeGraphApi,
    senders: list[str],
    *,
    everyone: set[str],
    timeout_s: float,
    meter: CpuMeter,
    tick: Callable[[], None],
) -> Replies:
    """Wait until the queue is empty and every message has a reply (or the queue stayed empty `SETTLED_S` with no
    new reply), or `timeout_s`; then count the replies.

    `senders` are the messages counted; `everyone` every number the bench wrote from.
    """
    started = time.monotonic()
    async with JobQueue(settings) as jobs:
        next_report = 0.0
        settled_since, last = started, (-1, -1)
        while True:
            tick()
            meter.sample()
            queue_left = (await jobs.depths())[jobs.spec.name]
            counts, _ = first_replies(graph)
            answered = sum(1 for s in senders if counts[s])
            now = time.monotonic()
            waited = now - started
            if (queue_left, answered) != last or queue_left:
                settled_since, last = now, (queue_left, answered)
            settled = queue_left == 0 and (answered == len(senders) or now - settled_since >= SETTLED_S)
            if settled or waited > timeout_s:
                break
            if waited >= next_report:
                progress(f"  draining {waited:5.0f} s: {queue_left} jobs queued, {answered}/{len(senders)} answered")
                next_report += 10
            await asyncio.sleep(0.5)
        drain_s = time.monotonic() - started
        await asyncio.sleep(1.0)  # a late second send would land now
        dead = await jobs.dead_letters()
    counts, _ = first_replies(graph)
    expected = set(senders)
    return Replies(
        expected=len(senders),
        unanswered=[s for s in senders if not counts[s]],
        duplicated={s: counts[s] for s in senders if counts[s] > 1},
        unacknowledged=sum(n for to, n in counts.items() if to in everyone and to not in expected),
        stray=sum(n for to, n in counts.items() if to not in everyone),
        drain_s=drain_s,
        drained=queue_left == 0,
        queue_left=queue_left,
        dead_letters=dead,
        cpu=meter.shares(),
        cpu_s=meter.seconds(),
    )


def database_view(database_url: str, unanswered: list[str]) -> dict[str, Any]:
    """What the app's own tables say: claimed events, deliveries by status, where unanswered messages stopped."""
    dsn = make_url(database_url).render_as_string(hide_password=False)
    with psycopg.connect(dsn) as conn:
        claimed = conn.execute(
            "SELECT count(*) FILTER (WHERE event_key NOT LIKE '%:%'), count(*) FILTER (WHERE event_key LIKE '%:%') "
            "FROM processed_webhook_events WHERE source = 'whatsapp'"
        ).fetchone()
        deliveries = dict(conn.execute("SELECT status, count(*) FROM message_deliveries GROUP BY status").fetchall())
        stopped: Counter[str] = Counter()
        for sender in unanswered[:200]:
            row = conn.execute(
                "SELECT (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id), "
                "(SELECT string_agg(d.status, ',') FROM message_deliveries d WHERE d.conversation_id = c.id) "
                "FROM conversations c WHERE c.external_ref = %s",
                (sender,),
            ).fetchone()
            if row is None:
                stopped["not stored (no conversation)"] += 1
            else:
                stopped[f"{row[0]} messages stored, deliveries [{row[1] or ''}]"] += 1
    return {
        "messages_claimed": claimed[0] if claimed else 0,
        "statuses_claimed": claimed[1] if claimed else 0,
        "deliveries": deliveries,
        "stopped": stopped,
    }


# --- the run -----------------------------------------------------------------------------------------


def warm_up(url: str, posts: list[Post]) -> None:
    with httpx.Client(timeout=30) as client:
        for post in posts:
            headers = {"Content-Type": "application/json", SIGNATURE_HEADER: post.signature}
            client.post(url, content=post.body, headers=headers).raise_for_status()


def hub_env(
    args: argparse.Namespace, tmp: Path, database_url: str, redis_url: str, graph: FakeGraphApi
) -> dict[str, str]:
    """The environment of every `hub` process: this run's database, Redis and fake Graph API, JSON logs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env |= {
        "HUB_DATA_DIR": str(tmp / "data"),
        "HUB_DATABASE_URL": database_url,
        "HUB_REDIS_URL": redis_url,
        "HUB_WHATSAPP_API_BASE": graph.base_url,
        "HUB_LOG_FORMAT": "json",
    }
    for option, variable in (
        ("concurrency", "HUB_JOBS_CONCURRENCY"),
        ("idle_timeout", "HUB_JOBS_IDLE_TIMEOUT_S"),
        ("lock_s", "HUB_WHATSAPP_LOCK_S"),
    ):
        if getattr(args, option) is not None:
            env[variable] = str(getattr(args, option))
    return env


def main(args: argparse.Namespace) -> None:
    for name in ("text_message", "status_sent", "status_delivered"):
        if not (FIXTURES / f"{name}.json").is_file():
            raise SystemExit(f"WhatsApp fixture {FIXTURES / name}.json is missing (set HUB_TEST_WHATSAPP_FIXTURES)")
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hub-webhook-load-")))
        logs = args.logs or tmp / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        procs = Processes(logs)
        stack.push(lambda kind, *_: procs.show_logs() if kind not in (None, KeyboardInterrupt) else None)
        database_url = stack.enter_context(fresh_database(args.postgres_url))
        redis_url = stack.enter_context(own_redis_db(args.redis_url))
        graph = stack.enter_context(FakeGraphApi())
        stack.callback(procs.stop_all)  # first of all, before the fake stops and the database is dropped
        env = hub_env(args, tmp, database_url, redis_url, graph)

        progress(f"seeding the demo shop into {make_url(database_url).database}")
        seeded = hub("seed", "demo", "--json", env=env, timeout=300)
        if seeded.returncode != 0:
            raise RuntimeError(f"hub seed demo failed:\n{seeded.stderr[-2000:]}")
        creds = json.loads(seeded.stdout.strip().splitlines()[-1])

        hub_port, bare_port = free_port(), free_port()
        server = procs.start("server", ["-m", "hub", "serve", "--port", str(hub_port)], env)
        procs.wait_up("server", f"http://127.0.0.1:{hub_port}/healthz")
        bare = procs.start("bare", ["-m", "bench.webhook_load", "--serve-bare", str(bare_port)], env)
        procs.wait_up("bare", f"http://127.0.0.1:{bare_port}/healthz")
        workers = Workers(procs, env)
        for count in range(1, args.workers + 1):  # one at a time: a busy start can cost a worker its life
            workers.start()
            workers.wait_live(redis_url, count)
        progress(f"hub serve :{hub_port}, bare :{bare_port}, {args.workers} workers, fake Graph API {graph.base_url}")

        bodies = Bodies(
            FIXTURES,
            phone_number_id=creds["whatsapp_phone_number_id"],
            app_secret=creds["whatsapp_app_secret"],
            run=uuid.uuid4().hex[:6].upper(),
        )
        rng = random.Random(args.seed)
        warm = [bodies.messages(0.0, 1, rng) for _ in range(WARMUP_POSTS)]
        plan = build_plan(
            bodies,
            rate=args.rate,
            duration=args.duration,
            status_fraction=args.status_fraction,
            batch_fraction=args.batch_fraction,
            dup_fraction=args.dup_fraction,
            seed=args.seed,
        )
        plan_file = tmp / "plan.jsonl"
        write_plan(plan, plan_file)
        bare_url = f"http://127.0.0.1:{bare_port}{WEBHOOK_PATH}"
        hub_url = f"http://127.0.0.1:{hub_port}{WEBHOOK_PATH}"
        warm_up(bare_url, warm)
        warm_up(hub_url, warm)
        time.sleep(1.0)

        progress(f"bare route: {len(plan.posts)} POSTs at {args.rate:g}/s")
        bare_phase = run_load(
            procs,
            "bare",
            bare_url,
            plan_file,
            tmp,
            rate=args.rate,
            connections=args.connections,
            watched=lambda: {"server": bare.pid},
            tick=workers.supervise,
        )
        progress(f"webhook: the same {len(plan.posts)} POSTs at {args.rate:g}/s")
        hook_phase = run_load(
            procs,
            "webhook",
            hub_url,
            plan_file,
            tmp,
            rate=args.rate,
            connections=args.connections,
            watched=lambda: {"server": server.pid, **workers.pids()},
            tick=workers.supervise,
            midway=(args.duration / 2, workers.kill_one) if args.kill and args.workers else None,
        )
        outcome = None
        if args.workers:
            settings = Settings(redis_url=redis_url, database_url=database_url, data_dir=tmp / "data")
            outcome = asyncio.run(
                count_outcome(args, plan, warm, hook_phase, graph, settings, workers, logs, server.pid)
            )
        report(args, plan, (bare_phase, hook_phase), workers, log_problems(logs), outcome)


@dataclass(frozen=True)
class Outcome:
    """What became of the messages: the replies after the drain, the app's own tables, the workers' logs."""

    replies: Replies
    delays: list[float]
    """Seconds from each counted message's first POST to its first reply, sorted."""
    db: dict[str, Any]
    refused: int
    """Messages left out of the count: none of their POSTs got a 2xx."""
    handled: dict[str, int]


async def count_outcome(
    args: argparse.Namespace,
    plan: Plan,
    warm: list[Post],
    hook: Phase,
    graph: FakeGraphApi,
    settings: Settings,
    workers: Workers,
    logs: Path,
    server_pid: int,
) -> Outcome:
    """Drain the queue, then count replies per message and read the app's tables and the workers' logs."""
    accepted = {
        s for post, code in zip(plan.posts, hook.statuses, strict=True) if 200 <= code < 300 for s in post.senders
    }
    warm_senders = [s for p in warm for s in p.senders]
    senders = warm_senders + [s for s in plan.senders if s in accepted]
    progress(f"draining: up to {args.drain_timeout:g} s for {len(senders)} replies")
    replies = await drain(
        settings,
        graph,
        senders,
        everyone=set(warm_senders) | set(plan.senders),
        timeout_s=args.drain_timeout,
        meter=CpuMeter(lambda: {"server": server_pid, **workers.pids()}),
        tick=workers.supervise,
    )
    _, first = first_replies(graph)
    return Outcome(
        replies=replies,
        delays=sorted(first[s] - (hook.start + plan.first_at[s]) for s in senders[len(warm_senders) :] if s in first),
        db=database_view(settings.resolved_database_url, replies.unanswered),
        refused=len(plan.senders) - (len(senders) - len(warm_senders)),
        handled=jobs_handled(logs),
    )


def report(
    args: argparse.Namespace,
    plan: Plan,
    phases: tuple[Phase, Phase],
    workers: Workers,
    problems: Counter[str],
    outcome: Outcome | None,
) -> None:
    bare, hook = phases
    print(
        f"WhatsApp webhook under load: {args.duration:g} s at {args.rate:g} POST/s each, open loop, "
        f"{args.workers} channel workers, Postgres + Redis, {os.cpu_count()} CPUs"
    )
    print(f"  {'route':<9} {'target rps':>10} {'achieved':>9} {'p50 ms':>8} {'p99 ms':>9} {'errors':>7}  sent late p99")
    for phase in phases:
        print(
            f"  {phase.route:<9} {phase.target_rps:>10.0f} {phase.achieved_rps:>9.1f} {phase.p50_ms:>8.2f} "
            f"{phase.p99_ms:>9.2f} {sum(phase.errors.values()):>7}  {phase.lag_p99_ms:.1f} ms"
        )
    print(
        f"  ratio webhook/bare: p50 {hook.p50_ms / bare.p50_ms:.2f}x, p99 {hook.p99_ms / bare.p99_ms:.2f}x, "
        f"rps {hook.achieved_rps / bare.achieved_rps:.2f}x"
    )
    per_post = {p.route: p.cpu_s.get("server", 0.0) / max(1, p.ok) * 1000 for p in phases}
    print(
        f"  server CPU per POST: webhook {per_post['webhook']:.2f} ms, bare {per_post['bare']:.2f} ms "
        f"({per_post['webhook'] / max(1e-9, per_post['bare']):.1f}x): one core tops out near "
        f"{1000 / max(1e-9, per_post['webhook']):.0f} webhook POSTs/s (hub serve runs one process)"
        + ("; inflated by work on POSTs whose client gave up" if hook.errors else "")
    )
    for phase in phases:
        if phase.errors:
            print(f"  {phase.route} errors: " + ", ".join(f"{k}: {v}" for k, v in sorted(phase.errors.items())))
    cpus = [("bare run", bare.cpu), ("webhook run", hook.cpu)] + ([("drain", outcome.replies.cpu)] if outcome else [])
    for label, cpu in cpus:
        shares = ", ".join(f"{k} {v:.0%}" for k, v in cpu.items() if k != "machine" and v >= 0.005) or "-"
        print(f"  CPU, {label}: machine {cpu['machine']:.0%} busy; of one core: {shares}")
    print(
        f"  POSTs {len(plan.posts)}: {plan.statuses} statuses, {plan.batched} batched, "
        f"{plan.redeliveries} redeliveries injected; {len(plan.senders)} unique messages; "
        f"workers killed {len(workers.killed)}"
    )
    if outcome is None:
        print("  no channel workers: replies not counted")
    else:
        lost, duplicated, unconfirmed = _report_outcome(outcome, workers)
        worker_cpu_ms = 1000 * sum(
            used for cpu_s in (hook.cpu_s, outcome.replies.cpu_s) for name, used in cpu_s.items() if "worker-" in name
        )
        messages, posts = outcome.replies.expected, hook.ok + WARMUP_POSTS
        per_message = worker_cpu_ms / max(1, messages)
        print(
            f"  channel workers' CPU: {worker_cpu_ms / max(1, posts):.2f} ms per POST handled "
            f"({worker_cpu_ms / max(1, posts) / max(1e-9, per_post['bare']):.1f}x the bare route's per POST), "
            f"{per_message:.2f} ms per message answered, statuses included "
            f"({per_message / max(1e-9, per_post['bare']):.1f}x)"
        )
    for exit_ in workers.exits:
        print(f"  worker exited by itself (restarted): {exit_}")
    if problems:
        print("  log warnings/errors: " + "; ".join(f"{k} ×{v}" for k, v in problems.most_common(10)))
    at_rate = hook.achieved_rps >= 0.95 * GOAL_RATE
    if outcome is None:
        cpu_met = per_post["webhook"] <= GOAL_SERVER_CPU_MS
        p99_met = hook.p99_ms <= GOAL_ALONE_P99_MS and at_rate
        print(
            f"  goal (webhook alone): ≤ {GOAL_SERVER_CPU_MS:g} ms server CPU per POST {_met(cpu_met)} "
            f"({per_post['webhook']:.2f} ms); p99 ≤ {GOAL_ALONE_P99_MS:g} ms at {GOAL_RATE} rps {_met(p99_met)} "
            f"(p99 {hook.p99_ms:.1f} ms at {hook.achieved_rps:.0f} rps, the bare route's {bare.p99_ms:.1f} ms)"
        )
    else:
        reply_p99 = nearest_rank(outcome.delays, 99) if outcome.delays else float("inf")
        print(
            f"  goal (with {args.workers} workers): p99 ≤ {GOAL_P99_MS:g} ms at {GOAL_RATE} rps "
            f"{_met(hook.p99_ms <= GOAL_P99_MS and at_rate)} (p99 {hook.p99_ms:.1f} ms at {hook.achieved_rps:.0f} rps); "
            f"replies p99 ≤ {GOAL_REPLY_P99_S:g} s {_met(reply_p99 <= GOAL_REPLY_P99_S)} ({reply_p99:.1f} s); "
            f"lost {lost} (goal 0); duplicated {duplicated} (goal 0); unconfirmed {unconfirmed}; "
            f"workers' CPU ≤ {GOAL_WORKER_CPU_MS:g} ms per "
            f"message {_met(per_message <= GOAL_WORKER_CPU_MS)}"
        )
    print(f"  limit: {_limit(bare, hook)}")


def _met(met: bool) -> str:
    return "met" if met else "missed"


def _report_outcome(outcome: Outcome, workers: Workers) -> tuple[int | str, int, int]:
    """Print what became of the messages; return (lost, duplicated, unconfirmed) as the goal line shows them."""
    replies, db = outcome.replies, outcome.db
    print(f"  counted: {replies.expected} messages with a 2xx POST ({WARMUP_POSTS} of them warm-up)")
    if outcome.refused:
        print(f"  not counted: {outcome.refused} messages none of whose POSTs got a 2xx (Meta would send them again)")
    state = "drained" if replies.drained else f"NOT drained ({replies.queue_left} jobs left)"
    print(f"  queue {state} {replies.drain_s:.1f} s after the load ended")
    if delays := outcome.delays:
        late = sum(d > LATE_REPLY_S for d in delays)
        print(
            f"  reply delay from first POST: p50 {nearest_rank(delays, 50):.1f} s, "
            f"p99 {nearest_rank(delays, 99):.1f} s, max {delays[-1]:.1f} s; {late} later than {LATE_REPLY_S:g} s"
        )
    extra = sum(n - 1 for n in replies.duplicated.values())
    lost: int | str = len(replies.unanswered) if replies.drained else f"unknown ({len(replies.unanswered)} unanswered)"
    print(f"  lost {lost}, duplicated {len(replies.duplicated)} ({extra} extra replies), stray sends {replies.stray}")
    if replies.unacknowledged:
        print(f"  {replies.unacknowledged} replies to uncounted messages: the app took them after the POST timed out")
    print(
        f"  app tables: {db['messages_claimed']} messages and {db['statuses_claimed']} statuses claimed; "
        f"deliveries {db['deliveries']}"
    )
    unconfirmed, sending = db["deliveries"].get("unconfirmed", 0), db["deliveries"].get("sending", 0)
    print(
        f"  replies unconfirmed {unconfirmed} (claimed by a worker that was killed before it recorded the Graph API's "
        f"answer: not sent again, delivered or lost), still claimed (sending) {sending}"
    )
    if db["stopped"]:
        print("  unanswered messages: " + "; ".join(f"{v}× {k}" for k, v in db["stopped"].most_common()))
    killed = set(workers.killed)
    print(
        "  jobs handled per worker: "
        + ", ".join(f"{name}{' (killed)' if name in killed else ''} {n}" for name, n in outcome.handled.items())
    )
    if replies.dead_letters:
        reasons = Counter(d.get("reason", "?")[:120] for d in replies.dead_letters)
        print("  dead-lettered jobs: " + "; ".join(f"{v}× {k}" for k, v in reasons.most_common(5)))
    return lost, len(replies.duplicated), unconfirmed


def _limit(bare: Phase, hook: Phase) -> str:
    """Say what held the webhook run back, from throughput, the generator's lateness and the CPU shares."""
    busy = f"machine {hook.cpu['machine']:.0%} busy, hub serve {hook.cpu.get('server', 0):.0%} of one core"
    if hook.achieved_rps < 0.95 * hook.target_rps <= bare.achieved_rps / 0.95:
        return (
            f"the webhook answered {hook.achieved_rps:.0f} of {hook.target_rps:g} rps offered where the bare route "
            f"kept up on the same machine, so requests queued ({busy})"
        )
    if hook.lag_p99_ms > 10 and bare.lag_p99_ms <= 10:
        return f"the generator sent late under the webhook run (p99 {hook.lag_p99_ms:.0f} ms): CPU starved ({busy})"
    if bare.lag_p99_ms > 10:
        return f"the generator could not hold the rate even against the bare route (p99 {bare.lag_p99_ms:.0f} ms late)"
    if hook.p99_ms > GOAL_P99_MS:
        return f"throughput kept up; the tail is waiting for shared CPUs and the database ({busy})"
    return f"none at this rate ({busy})"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=GOAL_RATE, help="POSTs per second.")
    parser.add_argument("--duration", type=float, default=20.0, help="Seconds of load per route.")
    parser.add_argument("--quick", action="store_true", help="A 5 s smoke run.")
    parser.add_argument("--status-fraction", type=float, default=0.75, help="Share of POSTs that are statuses.")
    parser.add_argument("--batch-fraction", type=float, default=0.1, help="Share of message POSTs with 2-5.")
    parser.add_argument("--dup-fraction", type=float, default=0.05, help="Share of POSTs that redeliver a body.")
    parser.add_argument("--workers", type=int, default=2, help="Channel workers; 0 times the webhook alone.")
    parser.add_argument("--no-kill", dest="kill", action="store_false", help="Kill no worker mid-run.")
    parser.add_argument("--connections", type=int, default=256, help="Generator connections at most.")
    parser.add_argument("--drain-timeout", type=float, default=900.0, help="Seconds to wait for the replies.")
    parser.add_argument("--concurrency", type=int, help="HUB_JOBS_CONCURRENCY [default: the app's].")
    parser.add_argument("--idle-timeout", type=float, help="HUB_JOBS_IDLE_TIMEOUT_S [default: the app's].")
    parser.add_argument("--lock-s", type=float, help="HUB_WHATSAPP_LOCK_S [default: the app's].")
    parser.add_argument("--postgres-url", default=PG_ADMIN_URL, help="Admin URL; a database is made beside it.")
    parser.add_argument("--redis-url", default=REDIS_URL, help="A Redis database index the bench may empty.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--logs", type=Path, help="Keep every process's log in this folder [default: discarded].")
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.duration = 5.0
    return args


if __name__ == "__main__":
    parsed = parse_args()
    if parsed.serve_bare is not None:
        serve_bare(parsed.serve_bare)
    else:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the cleanup on SIGTERM too
        main(parsed)
