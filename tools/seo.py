"""Operator SEO tools: product page copy from the catalog, checked for invented claims, drafted, approved, published."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from slugify import slugify
from sqlalchemy import func, select

from hub.db import models as m
from hub.gateway.context import CallContext
from hub.gateway.gateway import Gateway
from hub.gateway.run import GenerationResult
from hub.jobs import JobQueue
from hub.prompting.outputs import SeoProductCopy
from hub.tenancy.config import TenantConfig
from tools.context import OPERATOR_ONLY, Audience, ToolContext, ToolError
from tools.deps import actor, check_call, record
from tools.registry import ToolSpec, tool

SKU_FIELD = "The product's SKU exactly as the catalog has it, e.g. `SKU-1042`."
TITLE_MAX = 60
META_MAX = 155
META_MIN = 50
ALT_MAX = 125
SLUG_MAX = 80
DESCRIPTION_MIN = 50
DESCRIPTION_MAX = 2000
LANGUAGE = "English"

SeoValidator = Callable[[SeoProductCopy], list[str]]

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_WORD = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_SEPARATORS = (" — ", " – ", " - ", " | ")
_SLUG_STOPWORDS = ("the", "and", "a", "an", "of", "with", "for", "in", "on")
_NOT_DESCRIPTIVE_TAGS = frozenset({"new", "bestseller", "limited", "gift-idea", "final-sale", "sale"})

CLAIM_WORDS = frozenset(
    # materials and fibres
    "cotton pima supima organic linen flax hemp bamboo wool merino cashmere alpaca mohair angora silk satin "
    "velvet corduroy denim selvedge chambray twill canvas fleece sherpa jersey terry polyester nylon spandex "
    "elastane lycra acrylic viscose rayon modal lyocell tencel cupro recycled leather suede nubuck shearling "
    "rubber cork jute rattan wicker ceramic stoneware porcelain earthenware glass crystal wood "
    "oak walnut teak bamboo brass copper steel titanium silver gold vegan "
    # performance and origin claims
    "waterproof water-repellent windproof breathable insulated thermal quick-dry moisture-wicking stretch "
    "wrinkle-free non-iron stain-resistant antibacterial antimicrobial hypoallergenic odour-resistant uv upf spf "
    "handmade hand-made handcrafted hand-crafted handwoven hand-woven hand-knitted hand-stitched artisan "
    "sustainable eco-friendly biodegradable compostable carbon-neutral fair-trade fairtrade ethical "
    "certified gots oeko-tex bluesign fsc bci cruelty-free non-toxic "
    "warranty guarantee guaranteed lifetime patented award-winning clinically dermatologist-tested "
    "best cheapest finest unbeatable "
    # colours
    "white black navy grey gray charcoal sage oatmeal cream ecru rust terracotta olive lavender mustard burgundy "
    "khaki camel tan cognac chocolate red green blue yellow pink purple orange brown beige ivory maroon teal "
    "turquoise coral mint lilac indigo taupe mauve blush ochre emerald cobalt".split()
)
"""Words that state a fact about a product: copy may use one only when the product's own record contains it."""
_MULTI_LETTER_SIZES = re.compile(r"\b(?:XXS|XS|XL|XXL|XXXL|[2-5]XL)\b")
_SIZE = r"(?:[2-5]?X{0,3}[SML]|\d{1,3})"
_SIZE_CONTEXT = re.compile(rf"\b[Ss]izes?\s+({_SIZE})\b(?:\s*(?:–|-|to)\s*({_SIZE})\b)?")
_ORIGIN = re.compile(r"\bmade in (?:the )?([a-z]+(?: [a-z]+)?)")
_VOLATILE = re.compile(
    r"[$€£]\s?\d|\b\d+\s?% off\b|\bin stock\b|\bsold out\b|\bfree (?:shipping|delivery|returns)\b|\bon sale\b"
    r"|\bdiscount",
    re.IGNORECASE,
)


# --- product facts ----------------------------------------------------------------------------------


def _flatten(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _flatten(item)
    elif isinstance(value, list | tuple | set):
        for item in value:
            yield from _flatten(item)
    elif value is not None:
        yield str(value)


def product_record(product: m.Product) -> str:
    """Return everything the catalog says about the product, lowercase: the only source copy may draw facts from."""
    parts = [product.title, product.description or "", product.category, *(product.tags or [])]
    parts.extend(_flatten(product.attributes or {}))
    return "\n".join(parts).lower()


def _tokens(text: str) -> set[str]:
    tokens = set()
    for token in _WORD.findall(text.lower()):
        tokens.add(token)
        tokens.update(re.split(r"['-]", token))
    return tokens


def _base_title(product: m.Product) -> str:
    title = " ".join(product.title.split())
    for separator in _SEPARATORS:
        if separator in title:
            return title.split(separator, 1)[0].strip()
    return title


def _colours(product: m.Product) -> list[str]:
    colours = (product.attributes or {}).get("colours") or []
    return [str(c) for c in colours if str(c).strip()]


def _product_type(product: m.Product, base: str) -> str:
    kind = str((product.attributes or {}).get("product_type") or "").replace("_", " ").strip().lower()
    return kind or base.split()[-1].lower()


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _fit_words(text: str, limit: int) -> str:
    """Cut text at a word boundary to at most `limit` characters."""
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(" ,;:–—-")


# --- validators -------------------------------------------------------------------------------------


def _lengths(copy: SeoProductCopy) -> list[str]:
    problems = []
    for field, value, low, high in (
        ("title", copy.title, 10, TITLE_MAX),
        ("meta_description", copy.meta_description, META_MIN, META_MAX),
        ("image_alt_text", copy.image_alt_text, 5, ALT_MAX),
        ("slug", copy.slug, 3, SLUG_MAX),
        ("description", copy.description, DESCRIPTION_MIN, DESCRIPTION_MAX),
    ):
        if len(value) > high:
            problems.append(f"{field} is {len(value)} characters; the limit is {high}")
        elif len(value) < low:
            problems.append(f"{field} is {len(value)} characters; write at least {low}")
    return problems


def _keyword_placement(copy: SeoProductCopy) -> list[str]:
    keyword = copy.primary_keyword.strip().lower()
    problems = []
    if keyword not in copy.title.lower():
        problems.append(f"the title must contain the primary keyword {keyword!r}")
    if keyword not in copy.meta_description.lower():
        problems.append(f"the meta_description must contain the primary keyword {keyword!r}")
    if keyword not in [k.strip().lower() for k in copy.keywords]:
        problems.append(f"keywords must include the primary keyword {keyword!r}")
    if any(k != k.lower() for k in [copy.primary_keyword, *copy.keywords]):
        problems.append("keywords and primary_keyword must be lowercase")
    return problems


def _slug_format(copy: SeoProductCopy) -> list[str]:
    if not _SLUG.fullmatch(copy.slug):
        return [f"slug {copy.slug!r} must be lowercase ASCII words joined by single hyphens, e.g. `merino-socks`"]
    return []


def _no_volatile_facts(copy: SeoProductCopy) -> list[str]:
    text = " ".join([copy.title, copy.meta_description, copy.description, copy.image_alt_text])
    if found := _VOLATILE.search(text):
        return [f"{found.group(0)!r}: prices, discounts, stock and delivery promises do not belong in page copy"]
    return []


def _claims(product: m.Product) -> SeoValidator:
    record_text = product_record(product)
    known = _tokens(record_text)
    known_numbers = {n.replace(",", ".") for n in _NUMBER.findall(record_text)}

    def check(copy: SeoProductCopy) -> list[str]:
        text = "\n".join(
            [copy.title, copy.meta_description, copy.description, copy.image_alt_text, " ".join(copy.keywords)]
        )
        invented: list[str] = []
        for token in _WORD.findall(text.lower()):
            for word in {token, *re.split(r"['-]", token)}:
                if word in CLAIM_WORDS and word not in known and word not in invented:
                    invented.append(word)
        for number in _NUMBER.findall(text):
            if number.replace(",", ".") not in known_numbers and number not in invented:
                invented.append(number)
        sizes = set(_MULTI_LETTER_SIZES.findall(text))
        for match in _SIZE_CONTEXT.finditer(text):
            sizes.update(s for s in match.groups() if s)
        invented.extend(s for s in sorted(sizes) if s.lower() not in known and s not in invented)
        for origin in _ORIGIN.findall(text.lower()):
            if f"made in {origin}" not in record_text and origin not in invented:
                invented.append(f"made in {origin}")
        return [
            f"{word!r} is not in the product data: state only materials, sizes, colours and features the product "
            "record gives"
            for word in invented
        ]

    return check


def seo_validators(product: m.Product) -> list[SeoValidator]:
    """Return the business rules SEO copy for this product must pass; each returns the problems it found."""
    return [_lengths, _keyword_placement, _slug_format, _no_volatile_facts, _claims(product)]


def check_seo_copy(copy: SeoProductCopy, product: m.Product) -> list[str]:
    """Run every SEO rule for this product and return the problems, worded for a re-ask."""
    return [problem for check in seo_validators(product) for problem in check(copy)]


# --- deterministic copy -----------------------------------------------------------------------------


def _primary_keyword(base: str) -> str:
    words = base.lower().split()[-5:]
    while len(words) > 1 and len(" ".join(words)) > TITLE_MAX:
        words = words[1:]
    return " ".join(words)[:TITLE_MAX]


def _title(product: m.Product, base: str, keyword: str) -> str:
    title = " ".join(product.title.split())
    colours = _colours(product)
    candidates = [title, base, " ".join(base.split()[-len(keyword.split()) :])]
    if len(colours) == 1 and colours[0].lower() not in title.lower():
        candidates.insert(0, f"{base} — {colours[0]}")
    chosen = next((c for c in candidates if len(c) <= TITLE_MAX and keyword in c.lower()), keyword.title())
    if len(chosen) < 10:
        chosen = _fit_words(f"{chosen} – {product.category}", TITLE_MAX)
    return chosen


def _sizes_sentence(product: m.Product) -> str:
    sizes = [str(s) for s in (product.attributes or {}).get("sizes") or []]
    if not sizes:
        return ""
    if sizes == ["One Size"] or len(sizes) == 1:
        return "One size." if sizes[0].lower() == "one size" else f"Size {sizes[0]}."
    return f"Sizes {sizes[0]}–{sizes[-1]}." if len(sizes) > 2 else f"Sizes {_join(sizes)}."


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s.strip()]


def _meta(product: m.Product, base: str, keyword: str) -> str:
    colours = _colours(product)
    lead = f"{base} in {_join(colours)}." if colours else f"{base}."
    if len(lead) > META_MAX - 20:
        lead = f"{keyword.capitalize()}."
    opening = _sentences(product.description or "")[:1]
    # Most important first: the last one is dropped until the whole fits.
    optional = [p for p in [*opening, _sizes_sentence(product), "See materials and care details."] if p]
    while optional and len(" ".join([lead, *optional])) > META_MAX:
        optional.pop()
    meta = " ".join([lead, *optional])
    if len(meta) < META_MIN:
        material = (product.attributes or {}).get("material")
        extra = f"Made from {material}." if material else f"From our {product.category} range."
        meta = _fit_words(f"{meta} {extra}", META_MAX)
    return _fit_words(meta, META_MAX)


def _keywords(product: m.Product, base: str, keyword: str) -> list[str]:
    kind = _product_type(product, base)
    attributes = product.attributes or {}
    candidates = [keyword]
    candidates += [f"{c.lower()} {kind}" for c in _colours(product)[:3]]
    if (fit := str(attributes.get("fit") or "").lower()) and fit not in ("regular", "standard"):
        candidates.append(f"{fit} {kind}")
    candidates += [f"{t.lower()} {kind}" for t in product.tags or [] if t.lower() not in _NOT_DESCRIPTIVE_TAGS]
    category = product.category.lower()
    candidates += [kind, category]
    keywords: list[str] = []
    # The schema wants three phrases at least; these only fill in for a product with very little data.
    padding = [base.lower(), f"{kind} {category}", f"{category} {kind}"]
    for phrase in [*candidates, *padding]:
        phrase = " ".join(phrase.split())[:TITLE_MAX]
        if phrase and phrase not in keywords and (len(keywords) < 3 or phrase in candidates):
            keywords.append(phrase)
    return keywords[:10]


def _description(product: m.Product, base: str) -> str:
    text = " ".join((product.description or "").split())
    if len(text) < DESCRIPTION_MIN:
        material = (product.attributes or {}).get("material")
        colours = _colours(product)
        parts = [
            f"{base}.",
            text,
            f"Made from {material}." if material else "",
            f"Available in {_join(colours)}." if colours else "",
            f"Part of our {product.category} range.",
        ]
        text = " ".join(p for p in parts if p)
        if len(text) < DESCRIPTION_MIN:
            text += " Ask us about sizes, materials and care."
    if len(text) > DESCRIPTION_MAX:
        kept = ""
        for sentence in _sentences(text):
            if len(kept) + len(sentence) + 1 > DESCRIPTION_MAX:
                break
            kept = f"{kept} {sentence}".strip()
        text = kept or _fit_words(text, DESCRIPTION_MAX)
    return text


def fallback_seo_copy(product: m.Product) -> SeoProductCopy:
    """Build search copy from the product's own record only: the fallback when no model answers."""
    base = _base_title(product)
    keyword = _primary_keyword(base)
    colours = _colours(product)
    slug_source = f"{keyword} {colours[0]}" if len(colours) == 1 else keyword
    slug = slugify(slug_source, max_length=SLUG_MAX, word_boundary=True, stopwords=_SLUG_STOPWORDS)
    if len(slug) < 3:
        slug = slugify(f"{base} {product.category}", max_length=SLUG_MAX, word_boundary=True) or "product"
    alt = f"{base} in {colours[0]}" if colours else base
    if len(alt) < 5:
        alt = f"{alt} – {product.category}"
    return SeoProductCopy(
        title=_title(product, base, keyword),
        meta_description=_meta(product, base, keyword),
        slug=slug,
        primary_keyword=keyword,
        keywords=_keywords(product, base, keyword),
        image_alt_text=_fit_words(alt, ALT_MAX),
        description=_description(product, base),
    )


# --- seo_copy ---------------------------------------------------------------------------------------


class SeoCopyInput(BaseModel):
    sku: str = Field(min_length=1, max_length=64, description=SKU_FIELD)
    target_keywords: list[str] = Field(
        default_factory=list,
        max_length=5,
        description="Search phrases the operator wants the page to rank for, most important first, e.g. "
        "`organic cotton hoodie`. Leave empty to choose them from the product data.",
    )


class ContentDraftResult(BaseModel):
    draft_id: uuid.UUID
    sku: str
    kind: m.ContentKind
    status: m.ContentDraftStatus
    content: SeoProductCopy
    current_title: str | None
    """The product's title now, to compare; None when the product is gone."""
    engine: Literal["llm", "deterministic"] | None
    """Who wrote the content: a model or the deterministic builder."""
    created_by: str
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None
    published_at: datetime | None


async def _product(ctx: ToolContext, sku: str, *, lock: bool = False) -> m.Product:
    product = await ctx.data.products.by_sku(sku.strip())
    if product is None:
        raise ToolError(f"Unknown SKU {sku.strip()!r}")
    if lock:
        await ctx.session.refresh(product, with_for_update=True)
    return product


def _result(draft: m.ContentDraft, product: m.Product | None) -> ContentDraftResult:
    return ContentDraftResult(
        draft_id=draft.id,
        sku=draft.sku,
        kind=draft.kind,
        status=draft.status,
        content=SeoProductCopy.model_validate(draft.payload),
        current_title=product.title if product is not None else None,
        engine=(draft.generation or {}).get("engine"),
        created_by=draft.created_by,
        decided_by=draft.decided_by,
        decided_at=draft.decided_at,
        decision_reason=draft.decision_reason,
        published_at=draft.published_at,
    )


async def _generate(
    ctx: ToolContext,
    product: m.Product,
    *,
    gateway: Gateway,
    call: CallContext,
    target_keywords: list[str],
) -> GenerationResult[SeoProductCopy]:
    tenant = await ctx.session.get(m.Tenant, ctx.tenant_id)
    facts = {
        "sku": product.sku,
        "title": product.title,
        "description": product.description,
        "category": product.category,
        "attributes": product.attributes,
        "tags": product.tags,
    }
    return await gateway.generate(
        call,
        use_case="seo_product_copy",
        variables={
            "shop_name": tenant.name if tenant is not None else "",
            "language": LANGUAGE,
            "brand_tone": call.tenant.brand.tone,
            "product": json.dumps(facts, ensure_ascii=False, indent=1),
            "target_keywords": ", ".join(target_keywords),
        },
        fallback=lambda _refusal: fallback_seo_copy(product),
        validators=seo_validators(product),
        output_model=SeoProductCopy,
    )


async def _draft(
    ctx: ToolContext,
    product: m.Product,
    *,
    gateway: Gateway,
    call: CallContext,
    target_keywords: list[str],
    by: str,
) -> m.ContentDraft:
    result = await _generate(ctx, product, gateway=gateway, call=call, target_keywords=target_keywords)
    generation = {
        "engine": result.engine,
        "model": result.model,
        "prompt_ref": result.prompt_ref,
        "request_id": result.request_id,
        "trace_id": result.trace_id,
        "fallback_reason": str(result.fallback_reason) if result.fallback_reason else None,
    }
    draft = ctx.data.content_drafts.add(
        sku=product.sku,
        kind=m.ContentKind.SEO_COPY,
        payload=result.value.model_dump(mode="json"),
        status=m.ContentDraftStatus.DRAFT,
        generation=generation,
        created_by=by,
    )
    await ctx.session.flush()
    await record(
        ctx, "content.drafted", product.sku, {"draft_id": str(draft.id), **generation}, by=by, trace_id=call.trace_id
    )
    return draft


@tool(audiences=OPERATOR_ONLY)
async def seo_copy(ctx: ToolContext, args: SeoCopyInput, *, gateway: Gateway, call: CallContext) -> ContentDraftResult:
    """Write search copy (title, meta description, slug, keywords, alt text, description) for one product from its
    catalog data, and keep it as a draft for the operator to review."""
    check_call(ctx, call)
    product = await _product(ctx, args.sku)
    draft = await _draft(
        ctx, product, gateway=gateway, call=call, target_keywords=args.target_keywords, by=await actor(ctx)
    )
    return _result(draft, product)


# --- approve, reject, publish -----------------------------------------------------------------------


class DraftRef(BaseModel):
    draft_id: uuid.UUID = Field(description="The draft's id, as seo_copy returned it.")


class RejectContentInput(DraftRef):
    reason: str = Field(min_length=1, max_length=500, description="Why the copy is rejected, in the operator's words.")


async def _content_draft(ctx: ToolContext, draft_id: uuid.UUID) -> m.ContentDraft:
    draft = await ctx.data.content_drafts.get(draft_id)
    if draft is None:
        raise ToolError(f"Unknown content draft {draft_id}")
    # Lock so two operators deciding at once cannot both move the same draft.
    await ctx.session.refresh(draft, with_for_update=True)
    return draft


@tool(audiences=OPERATOR_ONLY, sensitive=True)
async def approve_content(ctx: ToolContext, args: DraftRef) -> ContentDraftResult:
    """Approve a content draft. It is not published until publish_content runs."""
    draft = await _content_draft(ctx, args.draft_id)
    if draft.status != m.ContentDraftStatus.DRAFT:
        raise ToolError(f"draft {draft.id} is {draft.status}; only a draft waiting for review can be approved")
    product = await _product(ctx, draft.sku)
    # The product may have changed since the copy was written: approve only copy that still fits it.
    if problems := check_seo_copy(SeoProductCopy.model_validate(draft.payload), product):
        raise ToolError(f"draft {draft.id} no longer fits product {draft.sku!r}: {'; '.join(problems)}")
    by = await actor(ctx)
    draft.status = m.ContentDraftStatus.APPROVED
    draft.decided_by, draft.decided_at = by, datetime.now(UTC)
    await record(ctx, "content.approved", draft.sku, {"draft_id": str(draft.id)}, by=by)
    await ctx.session.flush()
    return _result(draft, product)


@tool(audiences=OPERATOR_ONLY, sensitive=True)
async def reject_content(ctx: ToolContext, args: RejectContentInput) -> ContentDraftResult:
    """Reject a content draft with a reason."""
    draft = await _content_draft(ctx, args.draft_id)
    if draft.status not in (m.ContentDraftStatus.DRAFT, m.ContentDraftStatus.APPROVED):
        raise ToolError(f"draft {draft.id} is {draft.status}; it can no longer be rejected")
    by = await actor(ctx)
    draft.status = m.ContentDraftStatus.REJECTED
    draft.decided_by, draft.decided_at, draft.decision_reason = by, datetime.now(UTC), args.reason
    await record(ctx, "content.rejected", draft.sku, {"draft_id": str(draft.id), "reason": args.reason}, by=by)
    await ctx.session.flush()
    return _result(draft, await ctx.data.products.by_sku(draft.sku))


@tool(audiences=OPERATOR_ONLY, sensitive=True)
async def publish_content(ctx: ToolContext, args: DraftRef) -> ContentDraftResult:
    """Publish an approved content draft: replaces the product's title and description on the storefront."""
    draft = await _content_draft(ctx, args.draft_id)
    if draft.status != m.ContentDraftStatus.APPROVED:
        hint = " approve it first" if draft.status == m.ContentDraftStatus.DRAFT else " only approved drafts publish"
        raise ToolError(f"draft {draft.id} is {draft.status}, not approved:{hint}")
    product = await _product(ctx, draft.sku, lock=True)
    content = SeoProductCopy.model_validate(draft.payload)
    before = {"title": product.title, "description": product.description}
    product.title = content.title
    product.description = content.description
    seo = content.model_dump(mode="json", exclude={"title", "description"})
    product.attributes = {**(product.attributes or {}), "seo": seo}  # a new dict: JSON changes are not tracked
    by = await actor(ctx)
    draft.status = m.ContentDraftStatus.PUBLISHED
    draft.published_at = datetime.now(UTC)
    await record(ctx, "content.published", draft.sku, {"draft_id": str(draft.id), "before": before}, by=by)
    await ctx.session.flush()
    return _result(draft, product)


# --- seo_bulk ---------------------------------------------------------------------------------------


class SeoBulkInput(BaseModel):
    category: str = Field(
        min_length=1, max_length=100, description="Catalog category, e.g. `Dresses`; case-insensitive."
    )
    skip_drafted: bool = Field(
        default=True, description="Skip products that already have copy waiting for review or publishing."
    )
    target_keywords: list[str] = Field(
        default_factory=list, max_length=5, description="Search phrases to favour on every page, if any."
    )


class SeoBulkJob(BaseModel):
    """What a background worker needs to run `run_seo_bulk`; the tool describes the job and queues nothing."""

    kind: Literal["seo_bulk"] = "seo_bulk"
    tenant_id: uuid.UUID
    category: str
    skus: list[str]
    target_keywords: list[str] = Field(default_factory=list)
    requested_by: str


class SeoBulkResult(BaseModel):
    job: SeoBulkJob
    task_id: str
    """The background job's id; its progress arrives on the tenant's job events channel."""
    product_count: int
    skipped: list[str]
    """SKUs left out because copy for them already waits for review or publishing."""


class SeoBulkProgress(BaseModel):
    done: int
    total: int
    sku: str
    draft_id: uuid.UUID | None
    error: str | None = None


class SeoBulkReport(BaseModel):
    drafted: dict[str, uuid.UUID]
    """SKU → the new draft's id."""
    failed: dict[str, str]
    """SKU → why no draft was made."""
    deterministic: int
    """Drafts the fallback builder wrote because no model answered."""


Progress = Callable[[SeoBulkProgress], Awaitable[None]]


@tool(audiences=OPERATOR_ONLY)
async def seo_bulk(ctx: ToolContext, args: SeoBulkInput) -> SeoBulkResult:
    """Plan SEO copy for every active product in one category, to run in the background. Returns the job: how many
    products and which are skipped."""
    if ctx.jobs is None:
        raise ToolError("Background jobs are not running here, so bulk SEO copy cannot start; draft SKUs one by one")
    products = await ctx.data.products.list(
        func.lower(m.Product.category) == args.category.strip().lower(),
        m.Product.active.is_(True),
        order_by=[m.Product.sku],
    )
    if not products:
        stmt = select(m.Product.category).where(m.Product.tenant_id == ctx.tenant_id).distinct()
        known = sorted((await ctx.session.execute(stmt)).scalars())
        raise ToolError(f"Unknown category {args.category!r}; the catalog has {', '.join(map(repr, known)) or 'none'}")
    skipped: list[str] = []
    if args.skip_drafted:
        pending = await ctx.data.content_drafts.list(
            m.ContentDraft.sku.in_([p.sku for p in products]),
            m.ContentDraft.status.in_([m.ContentDraftStatus.DRAFT, m.ContentDraftStatus.APPROVED]),
        )
        waiting = {d.sku for d in pending}
        skipped = [p.sku for p in products if p.sku in waiting]
    skus = [p.sku for p in products if p.sku not in skipped]
    job = SeoBulkJob(
        tenant_id=ctx.tenant_id,
        category=products[0].category,
        skus=skus,
        target_keywords=args.target_keywords,
        requested_by=await actor(ctx),
    )
    # Nothing is generated here: the background job drafts each SKU in turn.
    task_id = await ctx.jobs.enqueue(SEO_BULK_TASK, job.model_dump(mode="json")) if skus else ""
    return SeoBulkResult(job=job, task_id=task_id, product_count=len(skus), skipped=skipped)


async def run_seo_bulk(
    ctx: ToolContext,
    job: SeoBulkJob,
    *,
    gateway: Gateway,
    call: CallContext,
    progress: Progress | None = None,
    commit_each: bool = True,
) -> SeoBulkReport:
    """Draft copy for every SKU of the job in turn, reporting progress after each one.

    With `commit_each` every draft is committed as soon as it exists, so a crash or restart keeps the
    finished ones; each product gets its own request id under the call's trace.
    """
    if job.tenant_id != ctx.tenant_id:
        raise ValueError(f"job is for tenant {job.tenant_id}, the context for {ctx.tenant_id}")
    check_call(ctx, call)
    drafted: dict[str, uuid.UUID] = {}
    failed: dict[str, str] = {}
    deterministic = 0
    for done, sku in enumerate(job.skus, start=1):
        draft: m.ContentDraft | None = None
        error: str | None = None
        try:
            product = await _product(ctx, sku)
            draft = await _draft(
                ctx,
                product,
                gateway=gateway,
                call=replace(call, request_id=uuid.uuid4().hex),
                target_keywords=job.target_keywords,
                by=job.requested_by,
            )
        except ToolError as exc:
            error = failed[sku] = str(exc)
        else:
            drafted[sku] = draft.id
            deterministic += draft.generation.get("engine") == "deterministic"
            if commit_each:
                await ctx.session.commit()
        if progress is not None:
            await progress(
                SeoBulkProgress(
                    done=done, total=len(job.skus), sku=sku, draft_id=draft.id if draft else None, error=error
                )
            )
    return SeoBulkReport(drafted=drafted, failed=failed, deterministic=deterministic)


SEO_BULK_TASK = "seo_bulk"
SEO_BULK_TIMEOUT_S = 3600


def register_jobs(queue: JobQueue) -> None:
    """Register the bulk SEO job; a rerun after a crash skips the SKUs an earlier try already drafted."""

    @queue.task(SEO_BULK_TASK, timeout_s=SEO_BULK_TIMEOUT_S)
    async def seo_bulk_job(payload: dict[str, Any]) -> dict[str, Any]:
        res = queue.resources
        job = SeoBulkJob.model_validate(payload)
        async with res.sessions() as session:
            tenant = await session.get(m.Tenant, job.tenant_id)
            if tenant is None or not tenant.active:
                raise ToolError(f"tenant {job.tenant_id} is gone or inactive")
            config = TenantConfig.model_validate(tenant.settings)
            ctx = ToolContext(
                session=session, tenant_id=tenant.id, audience=Audience.OPERATOR, channel=m.Channel.CONSOLE
            )
            waiting = await ctx.data.content_drafts.list(
                m.ContentDraft.sku.in_(job.skus),
                m.ContentDraft.status.in_([m.ContentDraftStatus.DRAFT, m.ContentDraftStatus.APPROVED]),
            )
            done_before = {d.sku for d in waiting}
            todo = job.model_copy(update={"skus": [sku for sku in job.skus if sku not in done_before]})

            async def progress(p: SeoBulkProgress) -> None:
                await queue.publish(
                    tenant.id,
                    {
                        "kind": "seo_bulk.progress",
                        "category": job.category,
                        **p.model_dump(mode="json"),
                        "done": p.done + len(done_before),
                        "total": len(job.skus),
                    },
                )

            report = await run_seo_bulk(
                ctx, todo, gateway=res.gateway, call=CallContext(tenant_id=tenant.id, tenant=config), progress=progress
            )
            summary = {
                "category": job.category,
                "drafted": len(report.drafted) + len(done_before),
                "failed": report.failed,
                "deterministic": report.deterministic,
            }
            await record(ctx, "seo.bulk_finished", job.category, summary, by=job.requested_by)
            await session.commit()
        await queue.publish(job.tenant_id, {"kind": "seo_bulk.finished", **summary})
        return summary


SEO_TOOLS: list[ToolSpec] = [seo_copy, approve_content, reject_content, publish_content, seo_bulk]
