"""Name every Redis key prefix HUB uses, in one place."""

REDIS_PREFIX = "hub"
WORKER_HEARTBEAT = f"{REDIS_PREFIX}:workers"
"""`hub:workers:<kind>:<worker id>` → JSON {host, pid, started_at}; expires unless refreshed."""
BREAKER = f"{REDIS_PREFIX}:breaker"
"""`hub:breaker:<provider>:<model>` → hash {failures, open_until, tenant (whose call opened it)}; `…:probe` → the
background probe's lock (one replica probes at a time)."""
RATE_LIMIT = f"{REDIS_PREFIX}:ratelimit"
"""`hub:ratelimit:<tenant>:<epoch minute>` → model calls this minute."""
SPEND = f"{REDIS_PREFIX}:spend"
"""`hub:spend:<tenant>:<YYYY-MM-DD>` and `…:<YYYY-MM>` → USD spent, kept by the usage ledger."""
USAGE_ROLLUP = f"{REDIS_PREFIX}:usage-rollup"
"""`hub:usage-rollup:final:<day>` and `hub:usage-rollup:open:<day>:<slot>`: once-only locks for daily rollups."""
RETENTION_PURGE = f"{REDIS_PREFIX}:retention-purge"
"""`hub:retention-purge:<day>` → the once-a-day lock of the retention purge (`running:<token>`, then `done`)."""
JOBS = f"{REDIS_PREFIX}:jobs"
"""The background job queues (`hub.jobs`): `hub:jobs:{<queue>}:<priority>` → the streams (consumer group
`workers`), `…:delayed:<priority>` → sorted sets of retries and delayed jobs, `…:results:<minute>` → hashes of
finished jobs' outcomes; `hub:jobs:dead` → JSON of jobs that ran out of tries; `hub:jobs:events:<tenant>` →
pub/sub channel of job progress for that tenant's operators."""
CHAT_RATE_LIMIT_KEY = f"{REDIS_PREFIX}:chat-ratelimit"
"""`hub:chat-ratelimit:<key prefix>` → sorted set of the key's chat requests in the current window (ms scores)."""
CHAT_SESSION_RATE_LIMIT_KEY = f"{REDIS_PREFIX}:chat-ratelimit-session"
"""`hub:chat-ratelimit-session:<tenant>:<session id>` → sorted set of one shopper session's chat requests (ms)."""
CHAT_CLIENT_RATE_LIMIT_KEY = f"{REDIS_PREFIX}:chat-ratelimit-client"
"""`hub:chat-ratelimit-client:<tenant>:<address or IPv6 /64>` → sorted set of one client's chat requests (ms)."""
CHAT_SESSION_LOCK = f"{REDIS_PREFIX}:chat-session"
"""`hub:chat-session:<tenant>:<session id>` → the lease held while one widget message of that session is answered
(`hub.leases`): a session's messages are answered one at a time, each seeing the one before."""
SIGNIN_GUESSES = f"{REDIS_PREFIX}:signin-guesses"
"""`hub:signin-guesses:account:<sha256 of the email>` and `…:client:<address or IPv6 /64>` → hash {fails, until (ms),
locked}: failed console sign-ins, the wait they impose and a lockout (`hub.tenancy.guessing`)."""
KEY_GUESSES = f"{REDIS_PREFIX}:key-guesses"
"""`hub:key-guesses:client:<address or IPv6 /64>` → hash {fails, until (ms), locked}: invalid API keys from one client."""
SWITCHES = f"{REDIS_PREFIX}:switches"
"""Pub/sub channel: a kill switch was flipped (the `kill_switches` table is the truth); every process reloads."""
TENANCY_CHANGES = f"{REDIS_PREFIX}:tenancy"
"""Pub/sub channel: a tenant or a channel account changed (the tables are the truth); in-memory copies reload."""
