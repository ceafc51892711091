"""Read a shop's policy or help page — Markdown, HTML, plain text or PDF — into a title and headed sections."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from enum import StrEnum
from html.parser import HTMLParser
from pathlib import PurePath

from hub.knowledge.passages import Section, paragraphs_of

MAX_TITLE = 200
_HEADING_WORDS = 10
"""A plain-text line of at most this many words, alone in its paragraph and not ending a sentence, is a heading."""


class DocumentFormat(StrEnum):
    MARKDOWN = "markdown"
    HTML = "html"
    TEXT = "text"
    PDF = "pdf"


SUFFIXES = {
    ".md": DocumentFormat.MARKDOWN,
    ".markdown": DocumentFormat.MARKDOWN,
    ".html": DocumentFormat.HTML,
    ".htm": DocumentFormat.HTML,
    ".txt": DocumentFormat.TEXT,
    ".text": DocumentFormat.TEXT,
    ".pdf": DocumentFormat.PDF,
}


class UnreadableDocumentError(ValueError):
    """The file is not a format HUB reads, or it is broken or empty; the message says which."""


@dataclass
class ReadDocument:
    title: str
    sections: list[Section]

    @property
    def text(self) -> str:
        """The whole readable text: each heading, then its paragraphs."""
        blocks: list[str] = []
        for s in self.sections:
            if s.heading != self.title or blocks:
                blocks.append(s.heading)
            blocks += s.paragraphs
        return "\n\n".join(blocks)


def format_of(name: str) -> DocumentFormat:
    """The format a file name's suffix says, or UnreadableDocumentError naming the suffixes HUB reads."""
    suffix = PurePath(name).suffix.lower()
    if suffix not in SUFFIXES:
        raise UnreadableDocumentError(
            f"unsupported file type {suffix or '(none)'!r}: HUB reads {', '.join(sorted(SUFFIXES))}"
        )
    return SUFFIXES[suffix]


def default_title(name: str) -> str:
    """A title made from a file name: `shipping-faq.md` → `Shipping faq`."""
    stem = re.sub(r"[-_]+", " ", PurePath(name).stem).strip()
    return (stem[:1].upper() + stem[1:])[:MAX_TITLE] or "Untitled"


def read_document(name: str, data: bytes) -> ReadDocument:
    """Read a file by its suffix; raise UnreadableDocumentError when it cannot be read or holds no text."""
    fmt = format_of(name)
    fallback = default_title(name)
    match fmt:
        case DocumentFormat.MARKDOWN:
            doc = _markdown(_decode(data), fallback)
        case DocumentFormat.HTML:
            doc = _html(_decode(data), fallback)
        case DocumentFormat.TEXT:
            doc = _plain(_decode(data), fallback)
        case DocumentFormat.PDF:
            doc = _pdf(data, fallback)
    doc.sections = [s for s in doc.sections if s.paragraphs]
    if not doc.sections:
        raise UnreadableDocumentError("no text found in the file")
    doc.title = " ".join(doc.title.split())[:MAX_TITLE] or fallback
    return doc


def _decode(data: bytes) -> str:
    if b"\x00" in data[:4096]:
        raise UnreadableDocumentError("the file is binary, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


class _Builder:
    """Collect paragraphs under the heading in force; the first top heading before any text is the title."""

    def __init__(self, fallback: str) -> None:
        self.title: str | None = None
        self.fallback = fallback
        self.sections: list[Section] = []

    def heading(self, text: str, level: int) -> None:
        text = " ".join(text.split())
        if not text:
            return
        if level == 1 and self.title is None and not any(s.paragraphs for s in self.sections):
            self.title = text
        self.sections.append(Section(text))

    def paragraph(self, text: str) -> None:
        text = " ".join(text.split())
        if not text:
            return
        if not self.sections:
            self.sections.append(Section(self.title or self.fallback))
        self.sections[-1].paragraphs.append(text)

    def build(self) -> ReadDocument:
        return ReadDocument(self.title or self.fallback, self.sections)


def _markdown(source: str, fallback: str) -> ReadDocument:
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").parse(source)
    out = _Builder(fallback)
    in_heading = 0
    items: list[str] = []
    list_depth = 0
    for token in tokens:
        match token.type:
            case "heading_open":
                in_heading = int(token.tag[1:])
            case "heading_close":
                in_heading = 0
            case "bullet_list_open" | "ordered_list_open":
                list_depth += 1
            case "bullet_list_close" | "ordered_list_close":
                list_depth -= 1
                if list_depth == 0 and items:
                    out.paragraph("\n".join(items))
                    items = []
            case "inline" if in_heading:
                out.heading(_plain_inline(token.content), in_heading)
            case "inline" if list_depth:
                items.append(f"- {_plain_inline(token.content)}")
            case "inline":
                out.paragraph(_plain_inline(token.content))
            case "fence" | "code_block":
                out.paragraph(token.content)
            case _:
                pass
    return out.build()


_MD_LINK = re.compile(r"!?\[([^\]]*)\]\(([^)\s]*)[^)]*\)")
_MD_EMPHASIS = re.compile(r"(\*\*|__|(?<!\w)[*_](?=\S))|(?<=\S)[*_](?!\w)|`")


def _plain_inline(text: str) -> str:
    """Markdown inline text as a shopper reads it: links keep their words (and a bare URL its address)."""
    text = _MD_LINK.sub(lambda m: m.group(1) or m.group(2), text)
    return _MD_EMPHASIS.sub("", text)


_BLOCKS = frozenset({"p", "li", "dt", "dd", "pre", "blockquote", "td", "th", "figcaption", "address", "div", "tr"})
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_DROPPED = frozenset({"script", "style", "noscript", "template", "nav", "header", "footer", "svg", "form", "iframe"})


class _HtmlBlocks(HTMLParser):
    """Collect an HTML page's title and its text blocks (headings, paragraphs, list items, cells) in order,
    leaving out scripts, styles and the site's navigation."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.blocks: list[tuple[str, str]] = []
        self._skip = 0
        self._in_title = False
        self._tag = "p"
        self._parts: list[str] = []

    def _flush(self) -> None:
        text = " ".join("".join(self._parts).split())
        if text:
            self.blocks.append((self._tag, f"- {text}" if self._tag == "li" else text))
        self._parts = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROPPED:
            self._skip += 1
        elif tag == "title":
            self._in_title = True
        elif tag in _BLOCKS or tag in _HEADINGS:
            self._flush()
            self._tag = tag

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROPPED:
            self._skip = max(0, self._skip - 1)
        elif tag == "title":
            self._in_title = False
        elif tag in _BLOCKS or tag in _HEADINGS:
            self._flush()
            self._tag = "p"

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._in_title:
            self.title += data
        else:
            self._parts.append(data)


def _html(source: str, fallback: str) -> ReadDocument:
    parser = _HtmlBlocks()
    parser.feed(source)
    parser.close()
    parser.handle_endtag("p")
    out = _Builder(fallback)
    if parser.title.strip():
        out.title = " ".join(parser.title.split())
    for tag, text in parser.blocks:
        if tag in _HEADINGS:
            out.heading(text, int(tag[1]))
        else:
            out.paragraph(text)
    return out.build()


def _plain(source: str, fallback: str) -> ReadDocument:
    out = _Builder(fallback)
    for block in paragraphs_of(source):
        words = block.split()
        if len(words) <= _HEADING_WORDS and not block.endswith((".", "!", "?", ":", ";", ",")):
            out.heading(block.strip("# ").strip(), 1 if out.title is None and not out.sections else 2)
        else:
            out.paragraph(block)
    return out.build()


def _pdf(data: bytes, fallback: str) -> ReadDocument:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
        meta_title = ((reader.metadata.title if reader.metadata else None) or "").strip()
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise UnreadableDocumentError(f"not a readable PDF: {exc}") from None
    text = "\n\n".join(_pdf_paragraphs(page) for page in pages)
    doc = _plain(text, fallback)
    if meta_title:
        doc.title = meta_title
    return doc


def _pdf_paragraphs(page: str) -> str:
    """Rejoin a PDF page's lines into paragraphs: text extraction ends every printed line with a newline, and a
    paragraph break shows as a blank line, a line ending a sentence short of the margin, or a short heading line."""
    lines = [line.strip() for line in page.splitlines()]
    width = max((len(line) for line in lines), default=0)
    blocks: list[list[str]] = [[]]
    for line in lines:
        if not line:
            blocks.append([])
            continue
        blocks[-1].append(line)
        short = len(line) < 0.7 * width
        if short and (line.endswith((".", "!", "?", ":")) or len(line.split()) <= _HEADING_WORDS):
            blocks.append([])
    return "\n\n".join(" ".join(b) for b in blocks if b)
