"""Reduce text to the stems that product search and policy retrieval compare, and expand words into synonyms."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# One light English stemmer serves product search and policy retrieval: both sides of every
# comparison go through it, so consistency matters more than linguistic accuracy.

_VOWELS = frozenset("aeiou")
WORD = re.compile(r"[a-z0-9]+")
_TSHIRT = re.compile(r"\bt[\s-]?shirts?\b")


def fold(text: str) -> str:
    """Lower-case and strip accents, and spell every T-shirt as a tee."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return _TSHIRT.sub(" tee ", ascii_text)


@lru_cache(maxsize=50_000)
def stem_of(word: str) -> str:
    """Reduce plurals and -ing/-ed/-ation/-ment forms to a shared stem: `dresses`→`dress`, `shipping`→`ship`."""
    w = word
    if len(w) <= 3 or w.isdigit():
        return w
    if w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "i"
    elif w.endswith("es") and w[:-2].endswith(("s", "x", "z", "ch", "sh")):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    for suffix in ("ation", "ment", "ing", "ed"):
        root = w[: -len(suffix)]
        if w.endswith(suffix) and len(root) >= 3 and _VOWELS & set(root):
            w = root
            if len(w) > 3 and w[-1] == w[-2] and w[-1] not in _VOWELS | {"s", "l"}:
                w = w[:-1]
            break
    if w.endswith("y") and len(w) > 3 and w[-2] not in _VOWELS:
        w = w[:-1] + "i"
    elif w.endswith("ie"):
        w = w[:-1]
    elif w.endswith("e") and not w.endswith("ee") and len(w) > 3:
        w = w[:-1]
    if len(w) >= 5 and w.endswith("ll"):
        w = w[:-1]
    return w


def stems(text: str) -> list[str]:
    """Stem every word of two characters or more, after folding."""
    return [stem_of(w) for w in WORD.findall(fold(text)) if len(w) > 1]


@lru_cache(maxsize=20_000)
def stem_set(text: str) -> frozenset[str]:
    """Stems of a product field; cached because the same titles and descriptions come back on every search."""
    return frozenset(stems(text))


def synonym_map(pairs: dict[str, str]) -> dict[str, frozenset[str]]:
    """Map each word's stem to the stems of the words that count as it."""
    return {stem_of(key): frozenset(stems(value)) for key, value in pairs.items()}
