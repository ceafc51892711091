"""Name every Redis key prefix HUB uses, in one place."""

REDIS_PREFIX = "hub"
WORKER_HEARTBEAT = f"{REDIS_PREFIX}:workers"
"""`hub:workers:<kind>:<worker id>` → JSON {host, pid, started_at}; expires unless refreshed."""
