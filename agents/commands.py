"""Read operator console commands without a model: `/summary jane@example.com` → a tool plan, results → a reply.

Each command maps to tool calls with arguments read from the text; the conversation graph runs them through
the same confirmation and permission checks as a model's calls, then `compose` writes the reply from the
tools' results alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from hub.text import PRODUCT_CODE, format_money
from tools.context import ToolError
from tools.photography import brief_from_request

_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.IGNORECASE)
_PHOTOS_USAGE = "/photos SKU white background, 4:5, 3 photos"
_BRIEF_USAGE = "/brief SKU 3 lifestyle shots on a marble counter, 4:5"


class Outcome(Protocol):
    """What `compose` reads of a tool call's outcome (the graph's `ToolOutcome`)."""

    @property
    def tool(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def result(self) -> dict[str, Any] | None: ...
    @property
    def detail(self) -> str | None: ...


@dataclass(frozen=True)
class PlannedCall:
    tool: str
    args: dict[str, Any]


@dataclass(frozen=True)
class Plan:
    """Tool calls to run, or a reply to give at once (help, or what is missing from the command)."""

    calls: list[PlannedCall] = field(default_factory=list)
    reply: str | None = None


@dataclass(frozen=True)
class Command:
    name: str
    usage: str
    read: Callable[[str], Plan]


def _needs(usage: str, what: str) -> Plan:
    return Plan(reply=f"I need {what}: `{usage}`.")


def _customer_then(tool: str, usage: str, **extra: Callable[[str], Any]) -> Callable[[str], Plan]:
    def read(rest: str) -> Plan:
        who, _, tail = rest.strip().partition(" ")
        if not who:
            return _needs(usage, "a customer (email, phone or name)")
        args: dict[str, Any] = {"customer": who}
        for key, parse in extra.items():
            value = parse(tail.strip())
            if value is None:
                return _needs(usage, key)
            args[key] = value
        return Plan([PlannedCall(tool, args)])

    return read


def _text(value: str) -> str | None:
    return value or None


def _tags(value: str) -> list[str] | None:
    tags = [t.strip().lstrip("#") for t in re.split(r"[,\s]+", value) if t.strip().lstrip("#")]
    return tags or None


def _purpose(value: str) -> str:
    return value or "check in after their last order"


def _read_seo(rest: str) -> Plan:
    sku = PRODUCT_CODE.search(rest)
    if sku is None:
        return _needs("/seo SKU-123 [keywords, …]", "a SKU")
    keywords = [k.strip() for k in rest[sku.end() :].split(",") if k.strip()][:5]
    return Plan([PlannedCall("seo_copy", {"sku": sku.group(0).upper(), "target_keywords": keywords})])


def _sku_and_words(rest: str) -> tuple[str, str] | None:
    sku = PRODUCT_CODE.search(rest)
    if sku is None:
        return None
    return sku.group(0).upper(), (rest[: sku.start()] + rest[sku.end() :]).strip(" ,.")


def _read_photos(rest: str) -> Plan:
    found = _sku_and_words(rest)
    if found is None:
        return _needs(_PHOTOS_USAGE, "a SKU")
    sku, words = found
    try:
        brief = brief_from_request(words)
    except ToolError as exc:
        return Plan(reply=f"{exc}: `{_PHOTOS_USAGE}`.")
    return Plan([PlannedCall("request_photos", {"sku": sku, **brief.model_dump(mode="json")})])


def _read_brief(rest: str) -> Plan:
    found = _sku_and_words(rest)
    if found is None:
        return _needs(_BRIEF_USAGE, "a SKU")
    sku, words = found
    if len(words) < 3:
        return _needs(_BRIEF_USAGE, "what the photos should show")
    return Plan([PlannedCall("draft_photo_brief", {"sku": sku, "request": words})])


def _read_save_segment(rest: str) -> Plan:
    name, colon, description = rest.partition(":")
    if not colon or not name.strip() or len(description.strip()) < 3:
        return _needs("/save-segment Lapsed VIPs: VIPs who have not ordered in 60 days", "a name and a description")
    return Plan([PlannedCall("save_segment", {"name": name.strip(), "description": description.strip()})])


def _by_id(tool: str, usage: str, **fields: Callable[[str], Any]) -> Callable[[str], Plan]:
    def read(rest: str) -> Plan:
        found = _UUID.search(rest)
        if found is None:
            return _needs(usage, "an id")
        key = "job_id" if tool in ("photo_job_status", "decide_photo") else "draft_id"
        args: dict[str, Any] = {key: found.group(0)}
        tail = (rest[: found.start()] + rest[found.end() :]).strip()
        for name, parse in fields.items():
            value = parse(tail)
            if value is None:
                return _needs(usage, name)
            args[name] = value
        return Plan([PlannedCall(tool, args)])

    return read


def _image_number(tail: str) -> int | None:
    found = re.search(r"\b(\d{1,2})\b", tail)
    return int(found.group(1)) if found else None


COMMANDS = [
    Command(
        "find",
        "/find words",
        lambda rest: (
            Plan([PlannedCall("find_customers", {"query": rest.strip()})])
            if rest.strip()
            else _needs("/find words", "words to look for")
        ),
    ),
    Command("summary", "/summary customer", _customer_then("summarize_customer", "/summary customer")),
    Command("profile", "/profile customer", _customer_then("customer_profile", "/profile customer")),
    Command("nba", "/nba customer", _customer_then("next_best_action", "/nba customer")),
    Command(
        "followup",
        "/followup customer [purpose]",
        _customer_then("draft_followup", "/followup customer [purpose]", purpose=_purpose),
    ),
    Command("note", "/note customer text", _customer_then("add_note", "/note customer text", text=_text)),
    Command("tag", "/tag customer tag[, tag]", _customer_then("tag_customer", "/tag customer tag", add=_tags)),
    Command(
        "segment",
        "/segment description",
        lambda rest: (
            Plan([PlannedCall("segment_customers", {"description": rest.strip()})])
            if len(rest.strip()) >= 3
            else _needs("/segment VIPs who have not ordered in 60 days", "a description")
        ),
    ),
    Command("save-segment", "/save-segment name: description", _read_save_segment),
    Command("seo", "/seo SKU [keywords, …]", _read_seo),
    Command(
        "seo-bulk",
        "/seo-bulk category",
        lambda rest: (
            Plan([PlannedCall("seo_bulk", {"category": rest.strip()})])
            if rest.strip()
            else _needs("/seo-bulk category", "a category")
        ),
    ),
    Command("approve-copy", "/approve-copy draft-id", _by_id("approve_content", "/approve-copy draft-id")),
    Command(
        "reject-copy",
        "/reject-copy draft-id reason",
        _by_id("reject_content", "/reject-copy draft-id reason", reason=_text),
    ),
    Command("publish", "/publish draft-id", _by_id("publish_content", "/publish draft-id")),
    Command("brief", _BRIEF_USAGE, _read_brief),
    Command("photos", _PHOTOS_USAGE, _read_photos),
    Command("job", "/job job-id", _by_id("photo_job_status", "/job job-id")),
    Command(
        "approve-photo",
        "/approve-photo job-id image-number",
        _by_id("decide_photo", "/approve-photo job-id image-number", image=_image_number, decision=lambda _: "approve"),
    ),
    Command(
        "reject-photo",
        "/reject-photo job-id image-number",
        _by_id("decide_photo", "/reject-photo job-id image-number", image=_image_number, decision=lambda _: "reject"),
    ),
]
_BY_NAME = {c.name: c for c in COMMANDS}


def _profile(r: dict[str, Any]) -> str:
    lines = [
        f"{r['name']} <{r['email']}>" + (f", {r['phone']}" if r.get("phone") else ""),
        f"Orders: {r['order_count']}, lifetime value {format_money(r['lifetime_value'], r['currency'])}",
    ]
    if r.get("last_order_number"):
        lines.append(
            f"Last order {r['last_order_number']} ({r['last_order_status']}), {r['days_since_last_order']} days ago"
        )
    if r.get("tags"):
        lines.append("Tags: " + ", ".join(r["tags"]))
    if r.get("open_issues"):
        lines.append("Open issues: " + "; ".join(r["open_issues"]))
    lines += [f"Note: {n['text']}" for n in r.get("notes", [])[-3:]]
    return "\n".join(lines)


def _summary(r: dict[str, Any]) -> str:
    segment = str(r["segment"]).replace("_", " ")
    mood = f"; mood {r['sentiment']}" if r.get("sentiment") not in (None, "unknown") else ""
    lines = [r["summary"], f"Segment: {segment}{mood}"]
    if r.get("key_facts"):
        lines.append("Key facts:\n" + "\n".join(f"- {fact}" for fact in r["key_facts"]))
    issues = r.get("open_issues") or []
    lines.append("Open issues:" + ("\n" + "\n".join(f"- {i}" for i in issues) if issues else " none"))
    lines.append(f"Next step: {r['suggested_next_step']}")
    if r.get("engine") == "deterministic":
        lines.append("(Built from the records alone: no model answered.)")
    return "\n\n".join(lines)  # paragraphs, so a list ends before the next heading in Markdown


def _customers(r: dict[str, Any]) -> str:
    rows = [f"- {c['name']} <{c['email']}>" for c in r["customers"]]
    return f"{r['total']} customer(s) found" + (":\n" + "\n".join(rows) if rows else ".")


def _segment(r: dict[str, Any]) -> str:
    sample = ", ".join(s["email"] for s in r.get("sample", [])[:5])
    return f"{r['count']} customers: {r['interpretation']}" + (f"\nFor example: {sample}" if sample else "")


def _draft(r: dict[str, Any]) -> str:
    c = r["content"]
    return (
        f"SEO draft {r['draft_id']} for {r['sku']} ({r['status']}):\nTitle: {c['title']}\nMeta: {c['meta_description']}"
        f"\nSlug: {c['slug']}\nKeywords: {', '.join(c['keywords'])}"
    )


def _brief(r: dict[str, Any]) -> str:
    source = "written by the model" if r.get("engine") == "llm" else "read from your words"
    return (
        f"Photo brief for {r['sku']} ({source}; nothing is queued yet):\n"
        f"Scene: {r['scene']}\nBackground: {r['background']}\n"
        f"{r['count']} image(s) at {r['aspect']}\nStyle: {r['style_notes']}\nAvoid: {r['negative_prompt']}"
    )


def _job(r: dict[str, Any]) -> str:
    images = f", {len(r['images'])} image(s)" if r.get("images") else ""
    return f"Photo job {r['job_id']} for {r['sku']}: {r['state']}{images}" + (
        f" ({r['error']})" if r.get("error") else ""
    )


_FORMATS: dict[str, Callable[[dict[str, Any]], str]] = {
    "customer_profile": _profile,
    "summarize_customer": _summary,
    "find_customers": _customers,
    "segment_customers": _segment,
    "next_best_action": lambda r: f"Next best action: {r['action']} ({r['priority']} priority). {r['reason']}",
    "draft_followup": lambda r: (
        "Draft follow-up (not sent):\n" + (f"Subject: {r['subject']}\n" if r.get("subject") else "") + r["body"]
    ),
    "add_note": lambda r: f"Note added; the customer has {len(r['notes'])} note(s).",
    "tag_customer": lambda r: "Tags now: " + (", ".join(r["tags"]) or "none"),
    "save_segment": lambda r: f"Saved segment {r['name']!r}: {r['member_count']} customers ({r['interpretation']}).",
    "seo_copy": _draft,
    "approve_content": _draft,
    "reject_content": _draft,
    "publish_content": _draft,
    "seo_bulk": lambda r: (
        f"SEO copy for {r['product_count']} product(s) in {r['job']['category']} is being drafted "
        "in the background; the drafts wait for approval."
    ),
    "draft_photo_brief": _brief,
    "request_photos": _job,
    "photo_job_status": _job,
    "decide_photo": _job,
}


class OperatorCommands:
    """The console's commands that need no model; anything else gets the list of them."""

    def help(self) -> str:
        usages = "\n".join(f"- `{c.usage}`" for c in COMMANDS)
        return f"No model is answering right now, so I understand these commands:\n{usages}"

    def plan(self, text: str) -> Plan:
        word, _, rest = text.strip().partition(" ")
        command = _BY_NAME.get(word.lstrip("/").lower())
        return command.read(rest) if command else Plan(reply=self.help())

    def compose(self, outcomes: Sequence[Outcome]) -> str:
        parts = []
        for o in outcomes:
            if o.status != "ok" or o.result is None:
                parts.append(f"{o.tool} did not run: {o.detail}")
            else:
                parts.append(_FORMATS[o.tool](o.result))
        return "\n\n".join(parts) or self.help()
