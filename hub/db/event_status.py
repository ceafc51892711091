"""Name the states of a shop event in the outbox, importable without SQLAlchemy (the CLI's `--status` choices)."""

from enum import StrEnum


class EventStatus(StrEnum):
    PENDING = "pending"
    """Waiting for its first or next delivery attempt (`next_attempt_at`)."""
    DELIVERED = "delivered"
    DEAD = "dead"
    """Every attempt failed: on the dead-letter list until an operator replays it."""
    SKIPPED = "skipped"
    """The shop has no webhook URL configured (or is inactive): kept for `hub events list`, never sent."""
