"""Answer shoppers with no model: route the message, fill slots across turns, call tools, reply from templates.

Every fact in a reply comes from this turn's tool outputs or policy passages, so the same validators
that police the LLM pass the deterministic reply; when nothing answers, it hands off rather than guess.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from pydantic import BaseModel

from agents.entities import CatalogIndex, Entities, extract_entities
from agents.router import IntentRouter
from hub.prompting.outputs import Intent
from hub.text import format_date, format_money
from tools import engagement as eng
from tools.context import ToolContext, ToolError
from tools.registry import ToolSpec, run_tool

SPECS: dict[str, ToolSpec] = {spec.name: spec for spec in eng.ENGAGEMENT_TOOLS}
POLICY_INTENTS = {
    Intent.SHIPPING_DELIVERY,
    Intent.RETURNS_REFUNDS,
    Intent.PAYMENT,
    Intent.ACCOUNT,
    Intent.INVOICE,
    Intent.SUBSCRIPTION,
    Intent.ORDER_CHANGE,
}
PRODUCT_INTENTS = {Intent.PRODUCT_SEARCH, Intent.PRODUCT_QUESTION, Intent.STOCK_CHECK, Intent.RECOMMENDATION}
_CATALOG_TTL_S = 60.0
_NAMED_PRODUCT_SCORE = 80.0
"""A fuzzy match this close names one product (a full title scores 85+); below it the shopper is browsing."""


class Pending(BaseModel):
    """What the engine asked for and is waiting on; kept in the conversation state between turns."""

    intent: Intent | None = None
    order_number: str | None = None
    contact: str | None = None


@dataclass(frozen=True)
class ShopVoice:
    name: str
    tone: str = "friendly and concise"


@dataclass
class EngineTurn:
    reply: str
    intent: Intent
    pending: Pending
    tools: list[str] = field(default_factory=list)
    args: list[dict[str, object]] = field(default_factory=list)
    """Each tool call's arguments, in the order of `tools`."""
    outputs: list[BaseModel] = field(default_factory=list)
    products: list[eng.ProductCard] = field(default_factory=list)
    handoff: eng.HandoffResult | None = None


def _stock_phrase(card: eng.ProductCard) -> str:
    if card.stock_level == eng.StockLevel.OUT:
        return "out of stock"
    if card.stock_level == eng.StockLevel.LOW:
        return f"only {card.stock} left"
    return "in stock"


def _price_phrase(card: eng.ProductCard) -> str:
    """The card's price, or its range ("from $19.00 to $29.00") where its variants differ in price."""
    price = format_money(card.price, card.currency)
    return f"from {price} to {format_money(card.price_to, card.currency)}" if card.price_to is not None else price


def _cite(passage: eng.PolicyPassage) -> str:
    """Quote a passage under the name of its source (the document, and its heading when it has several), so the
    shopper and whoever reads the trace can tell where the answer came from."""
    if passage.kind == "help":
        where = f"our help page “{passage.title}”"
    else:
        where = f"our {passage.title}" + ("" if "polic" in passage.title.casefold() else " policy")
    if passage.heading not in ("", passage.title):
        where += f" ({passage.heading})"
    return f"From {where}: {passage.text}"


def _card_line(card: eng.ProductCard) -> str:
    return f"- {card.title} ({card.sku}): {_price_phrase(card)}, {_stock_phrase(card)}"


def _variant_line(variant: eng.VariantInfo, currency: str) -> str:
    """One size or colour's price and stock: `M (TEE-M): $24.00, only 2 left`."""
    price = format_money(variant.price, currency)
    if variant.compare_at_price is not None and variant.compare_at_price > variant.price:
        price += f" (was {format_money(variant.compare_at_price, currency)})"
    return f"{variant.label()} ({variant.sku}): {price}, {_variant_stock(variant)}"


def _variant_stock(variant: eng.VariantInfo) -> str:
    if variant.stock_level == eng.StockLevel.OUT:
        return "out of stock"
    if variant.stock_level == eng.StockLevel.LOW:
        return f"only {variant.stock} left"
    return "in stock"


def _variant_answer(detail: eng.ProductDetail, size: str | None, colour: str | None) -> str:
    """Price and stock of the size or colour asked for, or what the product comes in when it lacks it."""
    asked = ", ".join(v for v in (size, colour) if v)
    chosen = eng.matching_variants(detail.variants, size=size, colour=colour)
    if len(chosen) == 1:
        v = chosen[0]
        price = format_money(v.price, detail.currency)
        if v.compare_at_price is not None and v.compare_at_price > v.price:
            price += f" (down from {format_money(v.compare_at_price, detail.currency)})"
        return f"{detail.title} in {v.label()} ({v.sku}) costs {price} and is {_variant_stock(v)}."
    if chosen:
        lines = "\n".join(f"- {_variant_line(v, detail.currency)}" for v in chosen)
        return f"{detail.title} in {asked}:\n{lines}"
    lines = "\n".join(f"- {_variant_line(v, detail.currency)}" for v in detail.variants)
    return f"{detail.title} ({detail.sku}) does not come in {asked}. It comes in:\n{lines}"


class DeterministicEngine:
    """One per process; catalog indexes are cached per tenant for a minute."""

    def __init__(self, router: IntentRouter | None = None) -> None:
        self.router = router or IntentRouter.default()
        self._catalogs: dict[object, tuple[float, CatalogIndex]] = {}

    async def _catalog(self, ctx: ToolContext) -> CatalogIndex:
        cached = self._catalogs.get(ctx.tenant_id)
        if cached and time.monotonic() - cached[0] < _CATALOG_TTL_S:
            return cached[1]
        products = [p for p in await ctx.data.products.list() if p.active]
        colours = {c for p in products for c in p.attributes.get("colours", [])}
        sizes = {str(s) for p in products for s in p.attributes.get("sizes", [])}
        index = CatalogIndex.build(
            [(p.sku, p.title, p.category) for p in products], colours=sorted(colours), sizes=sorted(sizes)
        )
        self._catalogs[ctx.tenant_id] = (time.monotonic(), index)
        return index

    async def catalog_words(self, ctx: ToolContext) -> frozenset[str]:
        """The words of the shop's product titles and categories (`CatalogIndex.words`)."""
        return (await self._catalog(ctx)).words

    async def understand(self, ctx: ToolContext, text: str, pending: Pending) -> tuple[Intent, Entities]:
        """Route the message and extract its entities; the graph reports this intent whichever engine answers."""
        catalog = await self._catalog(ctx)
        entities = extract_entities(text, catalog)
        intent = self.router.route(text, catalog.product_words).intent
        if pending.intent is not None and (entities.order_numbers or entities.emails or entities.phones):
            intent = pending.intent  # the customer is answering our question
        elif intent == Intent.OUT_OF_SCOPE and (
            entities.skus or any(p.score >= _NAMED_PRODUCT_SCORE for p in entities.products)
        ):
            intent = Intent.PRODUCT_QUESTION  # "tell me more about SKU-1001": about one of our products
        return intent, entities

    async def answer(
        self,
        ctx: ToolContext,
        text: str,
        *,
        pending: Pending,
        voice: ShopVoice,
        understood: tuple[Intent, Entities] | None = None,
    ) -> EngineTurn:
        """Reply to one customer message; never raises for a tool failure (it hands off instead).

        `understood` is what `understand` already returned for this message and `pending`, if the caller has it.
        """
        intent, entities = understood or await self.understand(ctx, text, pending)
        turn = EngineTurn(reply="", intent=intent, pending=Pending())
        try:
            await self._dispatch(ctx, turn, text, entities, pending, voice)
        except ToolError as exc:
            await self._hand_off(ctx, turn, eng.HandoffReason.TOOL_FAILURE, f"Tool failed: {exc}. Message: {text}")
        return turn

    async def _call(self, ctx: ToolContext, turn: EngineTurn, name: str, **args: object) -> BaseModel:
        result = await run_tool(SPECS[name], ctx, args)
        turn.tools.append(name)
        turn.args.append({k: v for k, v in args.items() if v is not None})
        turn.outputs.append(result)
        return result

    async def _dispatch(
        self, ctx: ToolContext, turn: EngineTurn, text: str, ent: Entities, pending: Pending, voice: ShopVoice
    ) -> None:
        intent = turn.intent
        if intent == Intent.ORDER_STATUS:
            await self._order_status(ctx, turn, ent, pending)
        elif intent in PRODUCT_INTENTS:
            await self._products(ctx, turn, text, ent)
        elif intent in POLICY_INTENTS:
            await self._policy(ctx, turn, text)
        elif intent in (Intent.HUMAN_HANDOFF, Intent.COMPLAINT):
            reason = eng.HandoffReason.COMPLAINT if intent == Intent.COMPLAINT else eng.HandoffReason.CUSTOMER_REQUEST
            await self._hand_off(ctx, turn, reason, text)
        elif intent == Intent.GREETING:
            turn.reply = (
                f"Hi! I'm the {voice.name} assistant. I can help you find products, check an order, "
                "and answer questions about delivery, returns and payment. What can I do for you?"
            )
        elif intent == Intent.FEEDBACK:
            turn.reply = f"Thank you for telling us! I've passed it on to the {voice.name} team."
        else:
            turn.reply = (
                f"I can only help with {voice.name}: our products, your orders, delivery and returns. "
                "What would you like to know?"
            )

    async def _order_status(self, ctx: ToolContext, turn: EngineTurn, ent: Entities, pending: Pending) -> None:
        number = ent.order_numbers[0] if ent.order_numbers else pending.order_number
        contacts = [*ent.emails, *ent.phones]
        contact = contacts[0] if contacts else pending.contact
        if not number or not contact:
            turn.pending = Pending(intent=Intent.ORDER_STATUS, order_number=number, contact=contact)
            missing = [
                w for w, v in (("your order number", number), ("the email or phone on the order", contact)) if not v
            ]
            turn.reply = f"I can check that for you. What's {' and '.join(missing)}?"
            return
        result = await self._call(ctx, turn, "order_status", order_number=number, email_or_phone=contact)
        assert isinstance(result, eng.OrderStatusResult)
        if not result.found or result.order is None:
            # The tool's own message is written for a model; the shopper gets the same nothing-revealed answer.
            turn.reply = (
                "I couldn't find an order with those details. Please check the order number and the email or phone "
                "you used when ordering."
            )
            return
        order = result.order
        lines = [f"Order {order.order_number} is {order.status.value.replace('_', ' ')}."]
        if order.carrier and order.tracking_number:
            lines.append(f"It travels with {order.carrier}, tracking number {order.tracking_number}.")
        if order.eta:
            lines.append(f"Estimated delivery: {format_date(order.eta)}.")
        items = ", ".join(f"{i.quantity} × {i.title}" for i in order.items)
        lines.append(f"Items: {items}.")
        turn.reply = " ".join(lines)

    async def _products(self, ctx: ToolContext, turn: EngineTurn, text: str, ent: Entities) -> None:
        named = [p for p in ent.products if p.score >= _NAMED_PRODUCT_SCORE]
        sku = ent.skus[0] if ent.skus else (named[0].sku if named else None)
        if turn.intent == Intent.STOCK_CHECK and sku:
            stock = await self._call(
                ctx,
                turn,
                "check_stock",
                sku=sku,
                size=ent.sizes[0] if ent.sizes else None,
                colour=ent.colours[0] if ent.colours else None,
            )
            assert isinstance(stock, eng.CheckStockResult)
            phrase = {
                "in_stock": "is in stock",
                "low": f"is running low: {stock.quantity} left",
                "out_of_stock": "is out of stock",
            }
            if stock.variant_sku is not None:
                turn.reply = (
                    f"{stock.title} in {stock.variants[0].label()} ({stock.variant_sku}) {phrase[stock.level.value]}."
                )
            elif stock.variants:
                lines = "\n".join(f"- {_variant_line(v, stock.currency or '')}" for v in stock.variants)
                turn.reply = f"{stock.title} ({stock.sku}) {phrase[stock.level.value]}:\n{lines}"
            else:
                turn.reply = f"{stock.title} ({stock.sku}) {phrase[stock.level.value]}." + (
                    f" {stock.note}" if stock.note else ""
                )
            return
        if turn.intent == Intent.RECOMMENDATION and sku:
            recs = await self._call(ctx, turn, "recommend_products", sku=sku, kind="complementary")
            assert isinstance(recs, eng.RecommendProductsResult)
            turn.products = [r.product for r in recs.recommendations]
            if turn.products:
                turn.reply = "These go well with it:\n" + "\n".join(_card_line(c) for c in turn.products)
                return
        if turn.intent == Intent.PRODUCT_QUESTION and sku:
            detail = await self._call(ctx, turn, "get_product", sku=sku)
            assert isinstance(detail, eng.ProductDetail)
            turn.products = [detail]
            size, colour = (ent.sizes[0] if ent.sizes else None), (ent.colours[0] if ent.colours else None)
            if detail.variants and (size or colour):
                turn.reply = _variant_answer(detail, size, colour)
                return
            facts = [f"{detail.title} ({detail.sku}) costs {_price_phrase(detail)} and is {_stock_phrase(detail)}."]
            if detail.material:
                facts.append(f"Material: {detail.material}.")
            if detail.sizes:
                facts.append(f"Sizes: {', '.join(detail.sizes)}.")
            if detail.colours:
                facts.append(f"Colours: {', '.join(detail.colours)}.")
            if detail.care:
                facts.append(f"Care: {detail.care}")
            turn.reply = " ".join(facts)
            return
        found = await self._call(
            ctx,
            turn,
            "search_products",
            query=text,
            min_price=ent.min_price,
            max_price=ent.max_price,
            size=ent.sizes[0] if ent.sizes else None,
            colour=ent.colours[0] if ent.colours else None,
        )
        assert isinstance(found, eng.SearchProductsResult)
        turn.products = found.products
        exact = [c for c in found.products if c.match is None]
        close = [c for c in found.products if c.match == "similar"]
        if found.products:
            parts = ["Here's what I found:\n" + "\n".join(_card_line(c) for c in exact)] if exact else []
            if close:
                lead = "These are close to what you asked for:" if not exact else "Also close:"
                parts.append(lead + "\n" + "\n".join(_card_line(c) for c in close))
            turn.reply = "\n".join(parts)
        else:
            turn.reply = (
                "I couldn't find a product matching that. Could you describe it differently, or tell me a price range?"
            )

    async def _policy(self, ctx: ToolContext, turn: EngineTurn, text: str) -> None:
        answer = await self._call(ctx, turn, "policy_answer", question=text, max_passages=1)
        assert isinstance(answer, eng.PolicyAnswerResult)
        if not answer.found:
            await self._hand_off(ctx, turn, eng.HandoffReason.MISSING_KNOWLEDGE, f"No policy answers: {text}")
            return
        turn.reply = _cite(answer.passages[0])

    async def _hand_off(self, ctx: ToolContext, turn: EngineTurn, reason: eng.HandoffReason, summary: str) -> None:
        result = await self._call(ctx, turn, "handoff_to_human", reason=reason, summary=summary[:1000].ljust(5))
        assert isinstance(result, eng.HandoffResult)
        turn.handoff = result
        turn.reply = (
            f"I've passed this to a colleague, who will get back to you here. Your reference is {result.reference}."
        )
