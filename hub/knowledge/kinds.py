"""What a knowledge document is: kept apart so the CLI can name it without loading the database models."""

from __future__ import annotations

from enum import StrEnum


class KnowledgeKind(StrEnum):
    POLICY = "policy"
    """A rule the shop holds itself to: returns, shipping, payment, privacy."""
    HELP = "help"
    """A help or FAQ page: how to do something."""
