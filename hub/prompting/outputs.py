"""Define what each prompt must return: one validated output model per use case."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

SKU_DESCRIPTION = "A SKU exactly as it appears in the provided tool results or context, e.g. `SKU-1042`."
ORDER_DESCRIPTION = "An order number exactly as it appears in the provided tool results or context, e.g. `A-10423`."


class Intent(StrEnum):
    """What a customer wants from one message; the `intent` field everywhere in HUB."""

    PRODUCT_SEARCH = "product_search"
    PRODUCT_QUESTION = "product_question"
    STOCK_CHECK = "stock_check"
    RECOMMENDATION = "recommendation"
    ORDER_STATUS = "order_status"
    ORDER_CHANGE = "order_change"
    RETURNS_REFUNDS = "returns_refunds"
    SHIPPING_DELIVERY = "shipping_delivery"
    PAYMENT = "payment"
    ACCOUNT = "account"
    INVOICE = "invoice"
    SUBSCRIPTION = "subscription"
    FEEDBACK = "feedback"
    COMPLAINT = "complaint"
    HUMAN_HANDOFF = "human_handoff"
    GREETING = "greeting"
    OUT_OF_SCOPE = "out_of_scope"


class FollowupChannel(StrEnum):
    EMAIL = "email"
    WHATSAPP = "whatsapp"


class CustomerSegment(StrEnum):
    NEW = "new"
    ACTIVE = "active"
    LOYAL = "loyal"
    VIP = "vip"
    AT_RISK = "at_risk"
    LAPSED = "lapsed"


class Sentiment(StrEnum):
    POSITIVE = "positive"
    NEUTRAL = "neutral"
    NEGATIVE = "negative"
    UNKNOWN = "unknown"


class NextAction(StrEnum):
    """What an operator can do next for one customer."""

    SEND_FOLLOWUP = "send_followup"
    RESOLVE_OPEN_ISSUE = "resolve_open_issue"
    RECOMMEND_PRODUCTS = "recommend_products"
    OFFER_INCENTIVE = "offer_incentive"
    REQUEST_REVIEW = "request_review"
    NOTIFY_BACK_IN_STOCK = "notify_back_in_stock"
    WIN_BACK = "win_back"
    ESCALATE_TO_HUMAN = "escalate_to_human"
    NO_ACTION = "no_action"


class Priority(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    URGENT = "urgent"


class AspectRatio(StrEnum):
    SQUARE = "1:1"
    PORTRAIT_4_5 = "4:5"
    PORTRAIT_3_4 = "3:4"
    LANDSCAPE_16_9 = "16:9"
    STORY_9_16 = "9:16"


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"


class PromptOutput(BaseModel):
    """Base for model outputs: unknown keys are errors, so a drifting model is caught and re-asked."""

    model_config = ConfigDict(extra="forbid")


class CustomerReply(PromptOutput):
    """The message the shop sends back to a customer, with what it claims, for validation."""

    reply: str = Field(
        min_length=1,
        max_length=2000,
        description="The message to send to the customer, in the customer's language and the brand's tone.",
    )
    intent: Intent = Field(description="What the customer wants in their latest message.")
    skus_mentioned: list[str] = Field(
        default_factory=list,
        description=f"Every SKU named in `reply`. {SKU_DESCRIPTION} Empty when the reply names none.",
    )
    order_numbers_mentioned: list[str] = Field(
        default_factory=list,
        description=f"Every order number named in `reply`. {ORDER_DESCRIPTION} Empty when the reply names none.",
    )
    handoff: bool = Field(
        description="True when a human colleague must take over: the answer is not in the context, "
        "the customer asks for a person, or the request needs someone with authority."
    )
    handoff_reason: str | None = Field(
        default=None,
        max_length=300,
        description="Why a human must take over, for the colleague who picks it up. Required when `handoff` is true, "
        "null otherwise.",
    )

    @model_validator(mode="after")
    def _handoff_has_a_reason(self) -> CustomerReply:
        if self.handoff and not (self.handoff_reason or "").strip():
            raise ValueError("handoff_reason is required when handoff is true")
        return self


class RouteEntities(PromptOutput):
    """Identifiers found in the customer's message, verbatim."""

    sku: str | None = Field(default=None, description="A SKU the customer wrote, verbatim, or null.")
    order_number: str | None = Field(default=None, description="An order number the customer wrote, verbatim, or null.")
    email: str | None = Field(
        default=None,
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        description="An email address the customer wrote, verbatim, or null.",
    )
    phone: str | None = Field(default=None, description="A phone number the customer wrote, verbatim, or null.")
    product_query: str | None = Field(
        default=None,
        max_length=200,
        description="Words describing the product the customer is looking for, e.g. `waterproof hiking boots "
        "size 42`, or null.",
    )


class IntentRoute(PromptOutput):
    """Which intent a customer message has and which identifiers it carries."""

    intent: Intent = Field(description="The single intent that best describes the customer's latest message.")
    confidence: float = Field(ge=0, le=1, description="How sure you are of `intent`, from 0 to 1.")
    entities: RouteEntities = Field(
        default_factory=RouteEntities, description="Identifiers the customer wrote; never guessed or completed."
    )


class CrmCustomerSummary(PromptOutput):
    """What an operator needs to know about one customer, from the shop's own records."""

    summary: str = Field(
        min_length=1,
        max_length=600,
        description="Two to four sentences an operator can read in ten seconds: who the customer is, how they buy, "
        "and anything that needs attention.",
    )
    segment: CustomerSegment = Field(description="The customer's lifecycle segment, judged from their order history.")
    key_facts: list[str] = Field(
        default_factory=list,
        max_length=8,
        description="Short facts taken from the records (order count, last order date, favourite category, "
        "lifetime spend), each one stated in the provided data.",
    )
    open_issues: list[str] = Field(
        default_factory=list,
        max_length=5,
        description="Unresolved problems: late or open orders, pending returns, unanswered complaints. Empty if none.",
    )
    sentiment: Sentiment = Field(description="The customer's mood in recent conversations; `unknown` without any.")
    suggested_next_step: str = Field(
        min_length=1, max_length=200, description="One concrete thing the operator could do next."
    )


class CrmFollowupDraft(PromptOutput):
    """A follow-up message for an operator to review and send."""

    subject: str | None = Field(
        default=None,
        max_length=120,
        description="Email subject line, under 60 characters where possible. Null for WhatsApp.",
    )
    body: str = Field(
        min_length=1,
        max_length=3000,
        description="The message body, ready to send after review. WhatsApp bodies stay under 1000 characters.",
    )
    channel: FollowupChannel = Field(description="The channel the draft is written for, as requested.")

    @model_validator(mode="after")
    def _subject_matches_channel(self) -> CrmFollowupDraft:
        if self.channel is FollowupChannel.EMAIL and not (self.subject or "").strip():
            raise ValueError("subject is required for an email")
        if self.channel is FollowupChannel.WHATSAPP and len(self.body) > 1000:
            raise ValueError("a WhatsApp body must be at most 1000 characters")
        return self


class NextBestAction(PromptOutput):
    """The single most useful thing to do next for one customer."""

    action: NextAction = Field(description="The action to take next.")
    reason: str = Field(
        min_length=1,
        max_length=400,
        description="Why this action, citing the facts from the records that support it.",
    )
    priority: Priority = Field(
        description="`urgent`: a customer is waiting on a problem now; `high`: revenue or a relationship at risk "
        "this week; `medium`: worthwhile soon; `low`: nice to have."
    )


class SeoProductCopy(PromptOutput):
    """Search-ready copy for one product page."""

    title: str = Field(
        min_length=10,
        max_length=60,
        description="Page title, at most 60 characters, primary keyword near the start, no shop name.",
    )
    meta_description: str = Field(
        min_length=50,
        max_length=155,
        description="Meta description, at most 155 characters, one benefit and a reason to click.",
    )
    slug: str = Field(
        min_length=3,
        max_length=80,
        pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$",
        description="URL slug: lowercase ASCII words joined by single hyphens, e.g. `merino-hiking-socks`.",
    )
    primary_keyword: str = Field(
        min_length=2, max_length=60, description="The one search phrase this page should rank for, lowercase."
    )
    keywords: list[str] = Field(
        min_length=3,
        max_length=10,
        description="Three to ten search phrases, most important first, the primary keyword included, lowercase.",
    )
    image_alt_text: str = Field(
        min_length=5,
        max_length=125,
        description="Alt text for the main product photo: what the photo shows, at most 125 characters.",
    )
    description: str = Field(
        min_length=50,
        max_length=2000,
        description="Product description for the page, using only facts from the product data.",
    )


class PhotoBrief(PromptOutput):
    """A brief for the imaging service: what to shoot around an unchanged product."""

    scene: str = Field(
        min_length=3,
        max_length=300,
        description="What surrounds the product, e.g. `on a weathered oak table beside a steaming mug`.",
    )
    background: str = Field(
        min_length=3, max_length=200, description="The backdrop, e.g. `seamless pure white` or `soft morning forest`."
    )
    aspect: AspectRatio = Field(description="Image aspect ratio, width:height.")
    count: int = Field(ge=1, le=8, description="How many images to generate, 1 to 8.")
    negative_prompt: str = Field(
        max_length=400,
        description="What must not appear: comma-separated, e.g. `text, watermark, extra logos, distorted product`.",
    )
    style_notes: str = Field(
        max_length=400,
        description="Lighting, lens, mood and colour notes, e.g. `soft diffused studio light, 50mm, brand amber accents`.",
    )


class ReplyJudge(PromptOutput):
    """A grader's verdict on one customer reply, against the evidence the agent had."""

    grounded: bool = Field(
        description="True when every factual claim in the reply (prices, stock, SKUs, order facts, dates, "
        "policy terms) is supported by the evidence."
    )
    score: float = Field(ge=0, le=1, description="Overall quality from 0 to 1, grounding weighted most.")
    issues: list[str] = Field(
        default_factory=list,
        max_length=10,
        description="Each problem found, one short sentence quoting the faulty claim. Empty when none.",
    )
    verdict: Verdict = Field(description="`pass` if the reply may be sent as is, `fail` otherwise.")

    @model_validator(mode="after")
    def _pass_needs_grounding(self) -> ReplyJudge:
        if self.verdict is Verdict.PASS and not self.grounded:
            raise ValueError("an ungrounded reply cannot pass")
        return self


OUTPUT_SCHEMAS: dict[str, type[BaseModel]] = {
    "customer_reply": CustomerReply,
    "intent_route": IntentRoute,
    "crm_customer_summary": CrmCustomerSummary,
    "crm_followup_draft": CrmFollowupDraft,
    "next_best_action": NextBestAction,
    "seo_product_copy": SeoProductCopy,
    "photo_brief": PhotoBrief,
    "reply_judge": ReplyJudge,
}
"""Output schema name (the `output` key of a prompt file) → the model that validates the reply."""
