"""Operator photography tools: brief a shoot from the operator's words, queue it, follow the job, judge results."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.db import models as m
from hub.gateway.context import CallContext
from hub.gateway.gateway import Gateway
from hub.imaging import DEFAULT_NEGATIVE_PROMPT, ImagingRefused, StudioBrief, decide, dispatch, submit
from hub.prompting.outputs import AspectRatio, PhotoBrief
from tools.context import OPERATOR_ONLY, ToolContext, ToolError
from tools.deps import actor, check_call
from tools.registry import ToolSpec, tool

SKU_FIELD = "The product's SKU exactly as the catalog has it, e.g. `SKU-1042`."


class PhotoDecision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class PhotoImage(BaseModel):
    """One generated image, as the imaging service writes it under `result["images"]`, plus the operator's verdict."""

    model_config = ConfigDict(extra="ignore")

    number: int
    """1-based position in the job's results: what an operator refers to."""
    path: str
    """Relative to the media directory."""
    score: float | None = None
    seed: int | None = None
    decision: PhotoDecision | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None


class PhotoJobResult(BaseModel):
    job_id: uuid.UUID
    sku: str
    state: m.ImageJobState
    brief: StudioBrief
    attempts: int
    history: list[dict[str, Any]]
    """Every state the job went through, oldest first: `{state, at, ...}`."""
    images: list[PhotoImage]
    """Empty until the imaging service has finished the job."""
    error: str | None
    created_at: datetime
    updated_at: datetime


def _images(job: m.ImageJob) -> list[PhotoImage]:
    images = []
    for number, raw in enumerate((job.result or {}).get("images") or [], start=1):
        try:
            images.append(PhotoImage.model_validate({**raw, "number": number}))
        except (ValidationError, TypeError):
            continue  # an entry without a path is nothing an operator can look at
    return images


def _job_result(job: m.ImageJob) -> PhotoJobResult:
    return PhotoJobResult(
        job_id=job.id,
        sku=job.sku,
        state=job.state,
        brief=StudioBrief.model_validate(job.brief),
        attempts=job.attempts,
        history=list(job.history or []),
        images=_images(job),
        error=job.error,
        created_at=job.created_at,
        updated_at=job.updated_at,
    )


async def _product(ctx: ToolContext, sku: str) -> m.Product:
    product = await ctx.data.products.by_sku(sku.strip())
    if product is None:
        raise ToolError(f"Unknown SKU {sku.strip()!r}")
    return product


async def _job(ctx: ToolContext, job_id: uuid.UUID) -> m.ImageJob:
    job = await ctx.data.image_jobs.get(job_id)
    if job is None:
        raise ToolError(f"Unknown photo job {job_id}")
    return job


# --- the operator's words → a brief -----------------------------------------------------------------

MAX_IMAGES = 8
DEFAULT_COUNT = 4
STUDIO_SCENE = "clean studio product shot, the product centred"
STUDIO_BACKGROUND = "seamless pure white"
SCENE_BACKGROUND = "soft, out-of-focus surroundings that match the scene"
BRIEF_NEGATIVE_PROMPT = "text, watermark, logos, extra products, duplicate product, distorted product, low quality"
"""What no brief may show, as the photo_brief prompt lists it; people and hands join it unless asked for."""
STUDIO_STYLE = "soft even studio light, no props, product centred and in sharp focus"
SCENE_STYLE = "soft natural light, shallow depth of field, product in sharp focus"

_NUMBER_WORDS = {
    w: i for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve".split())
}
_ASPECT = re.compile(r"(?<![\d.:])(1|4|3|16|9)\s*[:x×]\s*(1|5|4|9|16)(?![\d.:])")
_ASPECT_USES = (
    (re.compile(r"\bsquare\b|\bmarketplaces?\b|\bproduct grid\b", re.IGNORECASE), AspectRatio.SQUARE),
    (re.compile(r"\bstor(?:y|ies)\b|\breels?\b|\btiktok\b", re.IGNORECASE), AspectRatio.STORY_9_16),
    (re.compile(r"\bbanners?\b|\bhero\b|\blandscape\b|\bwidescreen\b", re.IGNORECASE), AspectRatio.LANDSCAPE_16_9),
    (re.compile(r"\b(?:instagram|social|feed)\b", re.IGNORECASE), AspectRatio.PORTRAIT_4_5),
)
"""Where the photos will go, when no ratio is written: the photo_brief prompt's own defaults."""
_COUNT = re.compile(
    rf"\b(?P<n>\d{{1,2}}(?!\d)|(?:{'|'.join(_NUMBER_WORDS)})\b)\s*(?P<kind>(?:[a-z-]+\s+){{0,2}}?)"
    r"(?P<noun>photos?|images?|shots?|pictures?|renders?|variations?|versions?)\b",
    re.IGNORECASE,
)
_COUNT_IN_BRIEF = re.compile(
    rf"\b(?P<n>\d{{1,2}}(?!\d)|(?:{'|'.join(_NUMBER_WORDS)})\b)\s*(?:shots?|images?|renders?|variations?)\b",
    re.IGNORECASE,
)
"""A number of images written into a brief's scene or style; props such as `two framed photos` are not counted."""
_ARTICLE = r"(?!(?:the|a|an)\b)"
_BACKGROUND = re.compile(
    rf"\b(?:(?:on|against|with)\s+)?(?:an?\s+|the\s+)?(?P<what>(?:{_ARTICLE}[a-z]+\s+)?{_ARTICLE}[a-z]+)"
    r"\s+(?:background|backdrop)\b",
    re.IGNORECASE,
)
_ON_COLOUR = re.compile(
    r"\b(?:on|against)\s+(?P<what>white|black|grey|gray|beige|cream)\b(?=\s*(?:[,.;]|$|\b(?:and|with|for|in|at)\b))",
    re.IGNORECASE,
)
_COLOURS = frozenset("white black grey gray beige cream ivory pink blue green yellow red orange navy sand".split())
_PLAIN = frozenset("plain pure clean seamless solid simple studio".split())
_STUDIO = re.compile(
    r"\b(?:studio|marketplaces?|packshots?|pack shots?|e-?commerce|catalog(?:ue)?|amazon)\b", re.IGNORECASE
)
_PEOPLE = re.compile(
    r"\b(?:people|person|model|models|hands?|holding|worn|wearing|woman|man|child|kids?)\b", re.IGNORECASE
)
_EXCLUDED = re.compile(
    r"\b(?:no|without)\s+(?P<what>[a-z]+(?:\s+(?!(?:on|in|at|and|or|with|but|please|the|an?|for|to|of)\b)[a-z]+)?)",
    re.IGNORECASE,
)
_NOT_A_SCENE = frozenset(
    "a an the of for on in at with and to it its this product photo photos shot shots image images picture pictures "
    "please some shoot take make".split()
)
"""Words that say nothing about the scene: a request made only of these gets the studio scene."""
_LEADING_FILLER = re.compile(
    r"^(?:(?:please|can you|could you|make|take|shoot|create|give me|i want|we need|some|an?|of|the product|it|for)\b"
    r"[\s,]*)+",
    re.IGNORECASE,
)


class PhotoRequest(BaseModel):
    """What an operator's words say about a shoot; None where they say nothing."""

    count: int | None
    """Images asked for, e.g. `3 lifestyle shots` → 3."""
    aspect: AspectRatio | None
    """A ratio written out (`4:5`, `16x9`); where the photos go (`story`) only sets the default."""
    usage_aspect: AspectRatio | None
    """The ratio where the photos will go implies (`story` → 9:16), used only when none is written."""
    background: str | None
    """The backdrop asked for, in brief words: `seamless pure white`, `soft morning forest`."""
    background_words: list[str]
    """The words of the request the background must keep, e.g. `["white"]`."""
    studio: bool
    """Studio, white or marketplace shots: seamless white, even light, no props."""
    people: bool
    """People or hands are asked for, so the negative prompt must not exclude them."""
    excluded: list[str]
    """What the request says must not appear, e.g. `no props` → `props`."""
    scene: str | None
    """The rest of the words, describing the scene; None when nothing is left."""

    def brief(self) -> PhotoBrief:
        """Fill what the request leaves open with the photo_brief prompt's defaults."""
        studio_look = self.studio or self.scene is None
        negative = [BRIEF_NEGATIVE_PROMPT]
        if not self.people:
            negative.append("people, hands")
        if studio_look and "props" not in self.excluded:
            negative.append("props")
        negative += [x for x in self.excluded if x not in ", ".join(negative)]
        return PhotoBrief(
            scene=self.scene or STUDIO_SCENE,
            background=self.background or (STUDIO_BACKGROUND if studio_look else SCENE_BACKGROUND),
            aspect=self.aspect or self.usage_aspect or AspectRatio.SQUARE,
            count=self.count or DEFAULT_COUNT,
            negative_prompt=", ".join(negative)[:400],
            style_notes=STUDIO_STYLE if studio_look else SCENE_STYLE,
        )


def _backdrop(words: str) -> tuple[str, list[str]]:
    """Turn `plain white` into `seamless pure white`, `soft pink` stays as written; return the words to keep."""
    parts = words.lower().split()
    kept = [w for w in parts if w not in _PLAIN] or parts
    if set(kept) <= _COLOURS:
        return (STUDIO_BACKGROUND if kept == ["white"] else "seamless " + " ".join(kept)), kept
    return " ".join(parts), kept


def read_request(request: str) -> PhotoRequest:
    """Read what an operator's words state about a shoot; ToolError when they ask for an impossible count.

    `3 lifestyle shots on a marble counter, 4:5` → count 3, aspect 4:5, scene `lifestyle shots on a marble
    counter`; `white background, 2 photos` → count 2, background `seamless pure white`, the studio scene.
    """
    text = " ".join(request.split())
    usage_aspect = next((aspect for pattern, aspect in _ASPECT_USES if pattern.search(text)), None)
    aspect = None
    if (found := _ASPECT.search(text)) and f"{found[1]}:{found[2]}" in AspectRatio._value2member_map_:
        aspect = AspectRatio(f"{found[1]}:{found[2]}")
        text = text.replace(found[0], " ")
    count = None
    if found := _COUNT.search(text):
        n = found["n"].lower()
        count = _NUMBER_WORDS[n] if n in _NUMBER_WORDS else int(n)
        if not 1 <= count <= MAX_IMAGES:
            raise ToolError(f"a shoot makes 1 to {MAX_IMAGES} images; the request asks for {count}")
        kind = found["kind"].strip()
        text = text.replace(found[0], f"{kind} {found['noun']}" if kind else " ")
    background, background_words = None, []
    if (found := _BACKGROUND.search(text) or _ON_COLOUR.search(text)) and len(found["what"]) >= 3:
        background, background_words = _backdrop(found["what"])
        text = text.replace(found[0], " ")
    excluded = []
    for found in _EXCLUDED.finditer(text):
        excluded.append(found["what"].lower())
        text = text.replace(found[0], " ")
    studio = bool(_STUDIO.search(request)) or STUDIO_BACKGROUND == background
    scene = _LEADING_FILLER.sub("", re.sub(r"[\s,;]+", " ", text).strip(" ,.;")).strip(" ,.;")
    said = set(re.findall(r"[a-z]+", _STUDIO.sub(" ", scene.lower()))) - _NOT_A_SCENE
    return PhotoRequest(
        count=count,
        aspect=aspect,
        usage_aspect=usage_aspect,
        background=background,
        background_words=background_words,
        studio=studio,
        people=bool(_PEOPLE.search(text)),
        excluded=excluded,
        scene=scene[:300] if said else None,
    )


def brief_from_request(request: str) -> PhotoBrief:
    """Turn an operator's words into a complete brief, without a model; ToolError for an impossible count."""
    return read_request(request).brief()


def _brief_rules(asked: PhotoRequest) -> Callable[[PhotoBrief], list[str]]:
    def check(brief: PhotoBrief) -> list[str]:
        problems = []
        if asked.count is not None and brief.count != asked.count:
            problems.append(f"the request asks for {asked.count} images: set count to {asked.count}")
        if asked.aspect is not None and brief.aspect != asked.aspect:
            problems.append(f"the request asks for {asked.aspect.value}: set aspect to {asked.aspect.value!r}")
        described = f"{brief.scene}\n{brief.background}\n{brief.style_notes}"
        for found in _ASPECT.finditer(described):
            if f"{found[1]}:{found[2]}" != brief.aspect.value:
                problems.append(f"the brief mentions {found[0]!r} but aspect is {brief.aspect.value!r}: keep one ratio")
        for found in _COUNT_IN_BRIEF.finditer(described):
            n = found["n"].lower()
            if (_NUMBER_WORDS[n] if n in _NUMBER_WORDS else int(n)) != brief.count:
                problems.append(f"the brief mentions {found[0]!r} but count is {brief.count}: keep one number")
        background = brief.background.lower()
        if missing := [w for w in asked.background_words if w not in background]:
            problems.append(
                f"the request asks for a {asked.background} background; background must say {' '.join(missing)!r}"
            )
        elif asked.studio and asked.background is None and "white" not in background:
            problems.append(f"the request asks for studio shots: use a {STUDIO_BACKGROUND} background")
        negative = brief.negative_prompt.lower()
        if missing := [w for w in ("text", "watermark") if w not in negative]:
            problems.append(f"negative_prompt must include {', '.join(missing)}")
        if asked.people and (found := re.search(r"\b(?:people|person|hands?)\b", negative)):
            problems.append(f"the request asks for people in the shot: remove {found[0]!r} from negative_prompt")
        for thing in asked.excluded:
            if thing not in negative:
                problems.append(f"the request says no {thing}: add {thing!r} to negative_prompt")
            if re.search(rf"\b{re.escape(thing)}\b", brief.scene.lower()):
                problems.append(f"the request says no {thing}, but the scene has {thing}")
        return problems

    return check


def check_photo_brief(brief: PhotoBrief, request: str) -> list[str]:
    """Return where a brief departs from the operator's words, as sentences for a re-ask."""
    return _brief_rules(read_request(request))(brief)


# --- draft_photo_brief ------------------------------------------------------------------------------


class PhotoBriefInput(BaseModel):
    sku: str = Field(min_length=1, max_length=64, description=SKU_FIELD)
    request: str = Field(
        min_length=3,
        max_length=500,
        description="What the operator wants, in their own words, e.g. `3 lifestyle shots on a marble counter, "
        "4:5` or `studio shots on white for the marketplace`.",
    )


class PhotoBriefResult(PhotoBrief):
    """A brief for the operator to check and pass to request_photos; nothing is queued."""

    sku: str
    engine: Literal["llm", "deterministic"]
    """`deterministic` when the brief was read from the request's words without a model."""


def _product_facts(product: m.Product) -> str:
    facts = {
        "sku": product.sku,
        "title": product.title,
        "category": product.category,
        "description": product.description,
        "attributes": product.attributes,
        "tags": product.tags,
    }
    return json.dumps(facts, ensure_ascii=False, indent=1)


@tool(audiences=OPERATOR_ONLY)
async def draft_photo_brief(
    ctx: ToolContext, args: PhotoBriefInput, *, gateway: Gateway, call: CallContext
) -> PhotoBriefResult:
    """Turn the operator's words about a shoot, e.g. `3 lifestyle shots on a marble counter, 4:5`, into a studio brief
    for one product (scene, background, aspect, count, what to avoid, style) for them to check. Nothing is queued;
    request_photos does that."""
    check_call(ctx, call)
    product = await _product(ctx, args.sku)
    asked = read_request(args.request)
    tenant = await ctx.session.get(m.Tenant, ctx.tenant_id)
    brand = call.tenant.brand
    result = await gateway.generate(
        call,
        use_case="photo_brief",
        variables={
            "shop_name": tenant.name if tenant is not None else "",
            "brand_tone": brand.tone,
            "brand_colours": f"{brand.primary_colour} (primary) and {brand.accent_colour} (accent)",
            "request": args.request,
            "product": _product_facts(product),
        },
        fallback=lambda _refusal: asked.brief(),
        validators=[_brief_rules(asked)],
        output_model=PhotoBrief,
    )
    return PhotoBriefResult(**result.value.model_dump(), sku=product.sku, engine=result.engine)


# --- request_photos ---------------------------------------------------------------------------------


class RequestPhotosInput(BaseModel):
    sku: str = Field(min_length=1, max_length=64, description=SKU_FIELD)
    scene: str = Field(
        min_length=3,
        max_length=300,
        description="What surrounds the product, e.g. `on a weathered oak table beside a steaming mug`.",
    )
    background: str = Field(
        min_length=3, max_length=200, description="The backdrop, e.g. `seamless pure white` or `soft morning forest`."
    )
    aspect: AspectRatio = Field(
        default=AspectRatio.SQUARE, description="Width:height: `1:1`, `4:5`, `3:4`, `16:9` or `9:16`."
    )
    count: int = Field(default=4, ge=1, le=8, description="How many images to make, 1 to 8.")
    seed: int | None = Field(
        default=None,
        ge=0,
        le=2**32 - 1,
        description="A number that reproduces an earlier result; leave it out for fresh images.",
    )
    negative_prompt: str = Field(
        default=DEFAULT_NEGATIVE_PROMPT, max_length=400, description="What must not appear, comma-separated."
    )
    style_notes: str = Field(
        default="", max_length=400, description="Lighting, lens and mood, e.g. `soft diffused studio light, 50mm`."
    )


@tool(audiences=OPERATOR_ONLY, sensitive=True)
async def request_photos(ctx: ToolContext, args: RequestPhotosInput) -> PhotoJobResult:
    """Queue studio shots of one product: its reference photo placed in a new scene. The images arrive later; follow
    them with photo_job_status."""
    settings = ctx.settings or (ctx.jobs.settings if ctx.jobs else None)
    if settings is None:
        raise ToolError("photo requests need the imaging service, which this process is not connected to")
    brief = StudioBrief(
        scene=args.scene,
        background=args.background,
        aspect=args.aspect,
        count=args.count,
        negative_prompt=args.negative_prompt,
        style_notes=args.style_notes,
        seed=args.seed,
    )
    try:
        job = await submit(ctx.session, settings, ctx.tenant_id, args.sku, brief, by=await actor(ctx))
    except ImagingRefused as exc:
        raise ToolError(exc.message) from None
    await ctx.session.refresh(job)  # created_at and updated_at are set by the database
    if ctx.jobs is not None:
        await dispatch(ctx.jobs, job)  # the worker waits for this turn's commit before it starts
    return _job_result(job)


# --- photo_job_status -------------------------------------------------------------------------------


class PhotoJobRef(BaseModel):
    job_id: uuid.UUID = Field(description="The photo job's id, as request_photos returned it.")


@tool(audiences=OPERATOR_ONLY)
async def photo_job_status(ctx: ToolContext, args: PhotoJobRef) -> PhotoJobResult:
    """The state of a photo job and, once finished, its images."""
    return _job_result(await _job(ctx, args.job_id))


# --- decide_photo -----------------------------------------------------------------------------------


class DecidePhotoInput(PhotoJobRef):
    image: int = Field(ge=1, le=64, description="Which image, numbered from 1 as photo_job_status lists them.")
    decision: PhotoDecision = Field(description="`approve` to use the image, `reject` to discard it.")
    reason: str | None = Field(default=None, max_length=500, description="Why, in the operator's words; optional.")


@tool(audiences=OPERATOR_ONLY, sensitive=True)
async def decide_photo(ctx: ToolContext, args: DecidePhotoInput) -> PhotoJobResult:
    """Approve or reject one image of a finished photo job."""
    try:
        job = await decide(
            ctx.session,
            ctx.tenant_id,
            args.job_id,
            args.image,
            approve=args.decision is PhotoDecision.APPROVE,
            by=await actor(ctx),
            reason=args.reason,
        )
    except ImagingRefused as exc:
        raise ToolError(exc.message) from None
    return _job_result(job)


PHOTO_TOOLS: list[ToolSpec] = [draft_photo_brief, request_photos, photo_job_status, decide_photo]
