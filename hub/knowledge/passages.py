"""Cut a document's sections into passages of about 100–200 words, each keeping the heading it sits under.

A passage never crosses a heading, and breaks on paragraph boundaries: short paragraphs of one section are packed
together up to `PASSAGE_WORDS`; a paragraph longer than `LONG_PARAGRAPH_WORDS` is cut into windows of whole
sentences of about `WINDOW_WORDS`, overlapping by one sentence so no sentence loses its neighbour.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

PASSAGE_WORDS = 200
"""Short paragraphs of one section are packed into passages of at most this many words."""
LONG_PARAGRAPH_WORDS = 220
"""A paragraph longer than this is split into overlapping sentence windows..."""
WINDOW_WORDS = 150
"""...of about this many words each."""

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_BLANK_LINE = re.compile(r"\n\s*\n")


@dataclass
class Section:
    """The paragraphs under one heading (the document's title for text before any heading)."""

    heading: str
    paragraphs: list[str] = field(default_factory=list[str])


@dataclass(frozen=True)
class PassageText:
    heading: str
    text: str


def paragraphs_of(text: str) -> list[str]:
    """Split plain text on blank lines, each paragraph's lines joined by single spaces."""
    return [" ".join(p.split()) for p in _BLANK_LINE.split(text) if p.strip()]


def _windows(paragraph: str) -> list[str]:
    sentences = _SENTENCE_END.split(paragraph)
    windows: list[str] = []
    start = 0
    while True:
        end, words = start, 0
        while end < len(sentences) and (end == start or words + len(sentences[end].split()) <= WINDOW_WORDS):
            words += len(sentences[end].split())
            end += 1
        windows.append(" ".join(sentences[start:end]))
        if end == len(sentences):
            return windows
        start = max(start + 1, end - 1)


def pack(paragraphs: list[str]) -> list[str]:
    """Pack one section's paragraphs into passages: short ones together, long ones cut into sentence windows."""
    out: list[str] = []
    current: list[str] = []
    words = 0
    for paragraph in paragraphs:
        size = len(paragraph.split())
        if size > LONG_PARAGRAPH_WORDS:
            out += ["\n\n".join(current)] if current else []
            current, words = [], 0
            out += _windows(paragraph)
            continue
        if current and words + size > PASSAGE_WORDS:
            out.append("\n\n".join(current))
            current, words = [], 0
        current.append(paragraph)
        words += size
    out += ["\n\n".join(current)] if current else []
    return out


def split_sections(sections: list[Section]) -> list[PassageText]:
    """Every section's passages, in document order."""
    return [PassageText(s.heading, text) for s in sections for text in pack(s.paragraphs)]


def split_passages(body: str) -> list[str]:
    """The passages of a plain-text body with no headings."""
    return pack(paragraphs_of(body))


def encoder_input(title: str, heading: str, text: str) -> str:
    """What the sentence encoder reads for a passage: where it sits (title, heading), then its words."""
    where = title if heading in ("", title) else f"{title} — {heading}"
    return f"{where}: {text}"
