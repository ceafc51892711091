"""Answer shoppers with no model: route the message, fill slots across turns, call tools, reply from templates.

Every fact in a reply comes from this turn's tool outputs or policy passages, so the same validators
that police the LLM pass the deterministic reply; when nothing answers, it hands off rather than guess.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from functools import partial
from typing import Literal

from pydantic import BaseModel

from agents import actions, flows
from agents.actions import Action, action_of
from agents.entities import CatalogIndex, Entities, extract_entities
from agents.replies import N_, Replies
from agents.router import IntentRouter
from agents.state import EngineTurn, Pending
from hub.db.models import OrderStatus
from hub.languages import Language, affirmation
from hub.prompting.outputs import Intent
from tools import engagement as eng
from tools.context import ToolContext, ToolError
from tools.order_actions import ORDER_ACTION_TOOLS
from tools.registry import ToolSpec, run_tool

SPECS: dict[str, ToolSpec] = {spec.name: spec for spec in [*eng.ENGAGEMENT_TOOLS, *ORDER_ACTION_TOOLS]}
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

Closing = Literal["thanks", "bye", "thanks_bye"]
"""How a shopper ends a conversation: thanking, saying goodbye, or both."""
_THANKS = r"thanks?|thank you|thx|ty|cheers|gracias|danke(?:sch(?:ö|oe)n)?|dank|merci|grazie|obrigad[oa]|valeu"
_BYE = (
    r"bye|goodbye|good bye|bye bye|see you|see ya|adi(?:ó|o)s|hasta luego|hasta pronto|chao|chau"
    r"|tsch(?:ü|u)s?s|auf wiedersehen|bis bald|bis dann|au revoir|(?:à|a) bient(?:ô|o)t|bonne (?:journ(?:é|e)e|soir(?:é|e)e)"
    r"|arrivederci|a presto|ciao ciao|buona (?:giornata|serata)|adeus|at(?:é|e) (?:logo|já|ja|mais)|tchau"
)
_HELLO = (
    r"hi|hello|hey|hiya|good (?:morning|afternoon|evening)|hola|buen(?:os|as) (?:días|dias|tardes|noches)|hallo"
    r"|guten (?:morgen|tag|abend)|servus|moin|bonjour|bonsoir|salut|ciao|buongiorno|buonasera|salve"
    r"|ol(?:á|a)|bom dia|boa (?:tarde|noite)"
)
_FILLER = (
    r"ok(?:ay)?|so|very|much|a lot|for (?:all )?(?:your|the) help|there|muchas|muchísimas|mil|vale|vielen|vielmals"
    r"|sehr|beaucoup|mille|tante|muito|muita|and|y|und|et|e"
)
_HELLO_OR_BYE = re.compile(r"\b(?:ciao|salut|servus)\b")
"""Words that greet at the start of a conversation and take leave at its end: after thanks, a goodbye."""
_THANKS_WORDS = re.compile(rf"\b(?:{_THANKS})\b")
_BYE_WORDS = re.compile(rf"\b(?:{_BYE})\b")
_COURTESY_ONLY = re.compile(rf"(?:\b(?:{_THANKS}|{_BYE}|{_HELLO}|{_FILLER})\b|[\W\d_])*")
"""A message of nothing but hellos, thanks and goodbyes, in any of the six languages ("grazie mille, ciao")."""


def closing_of(text: str) -> Closing | None:
    """Whether a message thanks, says goodbye or both, in any of the six languages; None for a hello."""
    words = text.casefold()
    thanks = _THANKS_WORDS.search(words) is not None
    bye = _BYE_WORDS.search(words) is not None or (thanks and _HELLO_OR_BYE.search(words) is not None)
    if thanks and bye:
        return "thanks_bye"
    return "thanks" if thanks else "bye" if bye else None


def _courtesy_only(text: str) -> bool:
    """Whether the message only greets, thanks or says goodbye, so it is a greeting whatever the router says."""
    short = len(text) <= 80  # a longer one says more, and the pattern need not backtrack through it
    return short and _COURTESY_ONLY.fullmatch(text.casefold()) is not None and re.search(r"[^\W\d_]", text) is not None


@dataclass(frozen=True)
class ShopVoice:
    name: str
    tone: str = "friendly and concise"


def _stock_phrase(r: Replies, card: eng.ProductCard | eng.VariantInfo) -> str:
    """How much of a product or variant is left, as a list line ends: `in stock`, `only 2 left`."""
    if card.stock_level == eng.StockLevel.OUT:
        return r._("out of stock")
    if card.stock_level == eng.StockLevel.LOW:
        return r.ngettext("only %(count)d left", "only %(count)d left", card.stock)
    return r._("in stock")


def _price_phrase(r: Replies, card: eng.ProductCard) -> str:
    """The card's price, or its range ("from $19.00 to $29.00") where its variants differ in price."""
    price = r.money(card.price, card.currency)
    if card.price_to is None:
        return price
    return r._("from %(low)s to %(high)s", low=price, high=r.money(card.price_to, card.currency))


def _cite(r: Replies, passage: eng.PolicyPassage) -> str:
    """Quote a passage under the name of its source (the document, and its heading when it has several), so the
    shopper and whoever reads the trace can tell where the answer came from."""
    if passage.kind == "help":
        where = r._("our help page “%(title)s”", title=passage.title)
    elif "polic" in passage.title.casefold():
        where = r._("our %(title)s", title=passage.title)
    else:
        where = r._("our %(title)s policy", title=passage.title)
    if passage.heading not in ("", passage.title):
        return r._("From %(source)s (%(heading)s): %(text)s", source=where, heading=passage.heading, text=passage.text)
    return r._("From %(source)s: %(text)s", source=where, text=passage.text)


def _card_line(r: Replies, card: eng.ProductCard) -> str:
    return f"- {card.title} ({card.sku}): {_price_phrase(r, card)}, {_stock_phrase(r, card)}"


def _variant_line(r: Replies, variant: eng.VariantInfo, currency: str) -> str:
    """One size or colour's price and stock: `M (TEE-M): $24.00, only 2 left`."""
    price = r.money(variant.price, currency)
    if variant.compare_at_price is not None and variant.compare_at_price > variant.price:
        price += " " + r._("(was %(price)s)", price=r.money(variant.compare_at_price, currency))
    return f"{variant.label()} ({variant.sku}): {price}, {_stock_phrase(r, variant)}"


def _variant_answer(r: Replies, detail: eng.ProductDetail, size: str | None, colour: str | None) -> str:
    """Price and stock of the size or colour asked for, or what the product comes in when it lacks it."""
    asked = ", ".join(v for v in (size, colour) if v)
    chosen = eng.matching_variants(detail.variants, size=size, colour=colour)
    if len(chosen) == 1:
        v = chosen[0]
        price = r.money(v.price, detail.currency)
        if v.compare_at_price is not None and v.compare_at_price > v.price:
            price += " " + r._("(down from %(price)s)", price=r.money(v.compare_at_price, detail.currency))
        return r._(
            "%(title)s in %(variant)s (%(sku)s) costs %(price)s and is %(stock)s.",
            title=detail.title,
            variant=v.label(),
            sku=v.sku,
            price=price,
            stock=_stock_phrase(r, v),
        )
    if chosen:
        lines = "\n".join(f"- {_variant_line(r, v, detail.currency)}" for v in chosen)
        return r._("%(title)s in %(variant)s:", title=detail.title, variant=asked) + f"\n{lines}"
    lines = "\n".join(f"- {_variant_line(r, v, detail.currency)}" for v in detail.variants)
    heading = r._(
        "%(title)s (%(sku)s) does not come in %(variant)s. It comes in:",
        title=detail.title,
        sku=detail.sku,
        variant=asked,
    )
    return f"{heading}\n{lines}"


def _stock_sentence(r: Replies, stock: eng.CheckStockResult, product: str) -> str:
    """Whether the product asked about is in stock."""
    if stock.level == eng.StockLevel.OUT:
        return r._("%(product)s is out of stock.", product=product)
    if stock.level == eng.StockLevel.LOW:
        return r.ngettext(
            "%(product)s is running low: %(count)d left.",
            "%(product)s is running low: %(count)d left.",
            stock.quantity,
            product=product,
        )
    return r._("%(product)s is in stock.", product=product)


def _stock_heading(r: Replies, stock: eng.CheckStockResult, product: str) -> str:
    """Whether the product asked about is in stock, as the heading of its variants' lines."""
    if stock.level == eng.StockLevel.OUT:
        return r._("%(product)s is out of stock:", product=product)
    if stock.level == eng.StockLevel.LOW:
        return r.ngettext(
            "%(product)s is running low: %(count)d left:",
            "%(product)s is running low: %(count)d left:",
            stock.quantity,
            product=product,
        )
    return r._("%(product)s is in stock:", product=product)


def _not_offered(r: Replies, stock: eng.CheckStockResult) -> str:
    """What the product lacks of the size or colour asked for: the tool's note in English, which names what it comes
    in instead, and the same said shortly in the shopper's language."""
    if r.language == "en" or stock.note is None:
        return stock.note or ""
    asked = ", ".join(v for v in (stock.size, stock.colour) if v)
    return r._("%(title)s does not come in %(variant)s.", title=stock.title, variant=asked)


def _greeting(r: Replies, text: str, voice: ShopVoice) -> str:
    """Welcome a shopper who says hello; thank one who says thanks, and see off one who says goodbye."""
    closing = closing_of(text)
    if closing == "thanks":
        return r._("You're welcome! Is there anything else I can help you with?")
    if closing == "thanks_bye":
        return r._("You're welcome! Thanks for visiting %(shop)s, and have a great day.", shop=voice.name)
    if closing == "bye":
        return r._("Goodbye, and thanks for visiting %(shop)s!", shop=voice.name)
    if affirmation(text) is not None:  # "ok", "sure": an acknowledgement, not a hello
        return r._("All right. Is there anything else I can help you with?")
    return r._(
        "Hi! I'm the %(shop)s assistant. I can help you find products, check an order, "
        "and answer questions about delivery, returns and payment. What can I do for you?",
        shop=voice.name,
    )


ORDER_STATUS_LINES: dict[OrderStatus, str] = {
    OrderStatus.PENDING_PAYMENT: N_("Order %(number)s is pending payment."),
    OrderStatus.PAID: N_("Order %(number)s is paid."),
    OrderStatus.PROCESSING: N_("Order %(number)s is processing."),
    OrderStatus.SHIPPED: N_("Order %(number)s is shipped."),
    OrderStatus.OUT_FOR_DELIVERY: N_("Order %(number)s is out for delivery."),
    OrderStatus.DELIVERED: N_("Order %(number)s is delivered."),
    OrderStatus.CANCEL_REQUESTED: N_("Order %(number)s has a cancellation request waiting for the shop's review."),
    OrderStatus.CANCELLED: N_("Order %(number)s is cancelled."),
    OrderStatus.RETURN_REQUESTED: N_("Order %(number)s is return requested."),
    OrderStatus.RETURNED: N_("Order %(number)s is returned."),
    OrderStatus.REFUNDED: N_("Order %(number)s is refunded."),
}
"""The first line of an order's status, one sentence per status so each language can phrase it as it needs
(the English keeps the status's own words, which the reply validator reads)."""


_NOT_ACTIONS = {Intent.GREETING, Intent.FEEDBACK, Intent.HUMAN_HANDOFF}


def _acts_on(intent: Intent, asked: tuple[Action, bool]) -> bool:
    """Whether a message that names an action (`agents.actions.action_of`) is about it, whatever the router said: a
    return, cancellation or address change asked for, or asked about where the router read orders or policies."""
    if intent in _NOT_ACTIONS:
        return False
    if intent in PRODUCT_INTENTS or intent == Intent.OUT_OF_SCOPE:
        return asked[1]
    return True


class DeterministicEngine:
    """One per process; catalog indexes are cached per tenant for a minute."""

    def __init__(self, router: IntentRouter | None = None) -> None:
        self.router = router or IntentRouter.default()
        actions.train_heads()  # once per process, at start-up rather than in a shopper's first turn
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
        asked = action_of(text, has_order=bool(entities.order_numbers), tracking=intent == Intent.ORDER_STATUS)
        if pending.action is not None and flows.continues(text, pending, entities):
            intent = flows.INTENTS[pending.action]  # the shopper answers the flow's question
        elif asked is not None and _acts_on(intent, asked):
            intent = flows.INTENTS[asked[0]]  # "return the jeans", "cancela mi pedido A-10001"
        elif pending.intent is not None and (entities.order_numbers or entities.emails or entities.phones):
            intent = pending.intent  # the customer is answering our question
        elif intent == Intent.OUT_OF_SCOPE and (
            entities.skus or any(p.score >= _NAMED_PRODUCT_SCORE for p in entities.products)
        ):
            intent = Intent.PRODUCT_QUESTION  # "tell me more about SKU-1001": about one of our products
        elif intent == Intent.OUT_OF_SCOPE and _courtesy_only(text):
            intent = Intent.GREETING  # "hallo", "grazie mille, arrivederci": courtesy, in any language
        return intent, entities

    async def answer(
        self,
        ctx: ToolContext,
        text: str,
        *,
        pending: Pending,
        voice: ShopVoice,
        language: Language = "en",
        understood: tuple[Intent, Entities] | None = None,
    ) -> EngineTurn:
        """Reply to one customer message in `language`; never raises for a tool failure (it hands off instead).

        `understood` is what `understand` already returned for this message and `pending`, if the caller has it.
        """
        intent, entities = understood or await self.understand(ctx, text, pending)
        turn = EngineTurn(reply="", intent=intent, pending=Pending(), language=language)
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
        intent, r = turn.intent, Replies(turn.language)
        asked = action_of(text, has_order=bool(ent.order_numbers), tracking=intent == Intent.ORDER_STATUS)
        if pending.action is not None and flows.continues(text, pending, ent):
            await flows.run(partial(self._call, ctx, turn), turn, text, ent, pending)
        elif asked is not None and intent == flows.INTENTS[asked[0]] and asked[1]:
            await flows.run(partial(self._call, ctx, turn), turn, text, ent, Pending(action=asked[0]))
        elif asked is not None and intent == flows.INTENTS[asked[0]] and asked[0] is not Action.STATUS:
            # a question about returns or changes: the policy answers it, and the flow is offered
            await self._policy(ctx, turn, text)
            if turn.handoff is None:
                turn.reply += "\n\n" + r._(flows.OFFERS[asked[0]])
                turn.pending = Pending(action=asked[0], step="identify")
        elif intent == Intent.ORDER_STATUS:
            await self._order_status(ctx, turn, ent, pending)
        elif intent in PRODUCT_INTENTS:
            await self._products(ctx, turn, text, ent)
        elif intent in POLICY_INTENTS:
            await self._policy(ctx, turn, text)
        elif intent in (Intent.HUMAN_HANDOFF, Intent.COMPLAINT):
            reason = eng.HandoffReason.COMPLAINT if intent == Intent.COMPLAINT else eng.HandoffReason.CUSTOMER_REQUEST
            await self._hand_off(ctx, turn, reason, text)
        elif intent == Intent.GREETING:
            turn.reply = _greeting(r, text, voice)
        elif intent == Intent.FEEDBACK:
            turn.reply = r._("Thank you for telling us! I've passed it on to the %(shop)s team.", shop=voice.name)
        elif len(text.split()) <= 3 and affirmation(text) is not None:
            # a bare "ok" or "no thanks" with nothing open to answer: the conversation goes on, no lecture on scope
            turn.reply = r._("All right. Is there anything else I can help you with?")
        else:
            turn.reply = r._(
                "I can only help with %(shop)s: our products, your orders, delivery and returns. "
                "What would you like to know?",
                shop=voice.name,
            )

    async def _order_status(self, ctx: ToolContext, turn: EngineTurn, ent: Entities, pending: Pending) -> None:
        r = Replies(turn.language)
        number = ent.order_numbers[0] if ent.order_numbers else pending.order_number
        contacts = [*ent.emails, *ent.phones]
        contact = contacts[0] if contacts else pending.contact
        if not number or not contact:
            turn.pending = Pending(intent=Intent.ORDER_STATUS, order_number=number, contact=contact)
            if not number and not contact:
                turn.reply = r._(
                    "I can check that for you. What's your order number and the email or phone on the order?"
                )
            elif not number:
                turn.reply = r._("I can check that for you. What's your order number?")
            else:
                turn.reply = r._("I can check that for you. What's the email or phone on the order?")
            return
        result = await self._call(ctx, turn, "order_status", order_number=number, email_or_phone=contact)
        assert isinstance(result, eng.OrderStatusResult)
        if not result.found or result.order is None:
            # The tool's own message is written for a model; the shopper gets the same nothing-revealed answer.
            turn.reply = r._(
                "I couldn't find an order with those details. Please check the order number and the email or phone "
                "you used when ordering."
            )
            return
        order = result.order
        lines = [r._(ORDER_STATUS_LINES[order.status], number=order.order_number)]
        if order.carrier and order.tracking_number:
            lines.append(
                r._(
                    "It travels with %(carrier)s, tracking number %(tracking)s.",
                    carrier=order.carrier,
                    tracking=order.tracking_number,
                )
            )
        if order.eta:
            lines.append(r._("Estimated delivery: %(date)s.", date=r.date(order.eta)))
        items = ", ".join(f"{i.quantity} × {i.title}" for i in order.items)
        lines.append(r._("Items: %(items)s.", items=items))
        turn.reply = " ".join(lines)

    async def _products(self, ctx: ToolContext, turn: EngineTurn, text: str, ent: Entities) -> None:
        r = Replies(turn.language)
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
            if stock.variant_sku is not None:
                product = r._(
                    "%(title)s in %(variant)s (%(sku)s)",
                    title=stock.title,
                    variant=stock.variants[0].label(),
                    sku=stock.variant_sku,
                )
                turn.reply = _stock_sentence(r, stock, product)
            elif stock.variants:
                lines = "\n".join(f"- {_variant_line(r, v, stock.currency or '')}" for v in stock.variants)
                turn.reply = f"{_stock_heading(r, stock, f'{stock.title} ({stock.sku})')}\n{lines}"
            else:
                turn.reply = _stock_sentence(r, stock, f"{stock.title} ({stock.sku})") + (
                    f" {_not_offered(r, stock)}" if stock.note else ""
                )
            return
        if turn.intent == Intent.RECOMMENDATION and sku:
            recs = await self._call(ctx, turn, "recommend_products", sku=sku, kind="complementary")
            assert isinstance(recs, eng.RecommendProductsResult)
            turn.products = [r.product for r in recs.recommendations]
            if turn.products:
                turn.reply = r._("These go well with it:") + "\n" + "\n".join(_card_line(r, c) for c in turn.products)
                return
        if turn.intent == Intent.PRODUCT_QUESTION and sku:
            detail = await self._call(ctx, turn, "get_product", sku=sku)
            assert isinstance(detail, eng.ProductDetail)
            turn.products = [detail]
            size, colour = (ent.sizes[0] if ent.sizes else None), (ent.colours[0] if ent.colours else None)
            if detail.variants and (size or colour):
                turn.reply = _variant_answer(r, detail, size, colour)
                return
            facts = [
                r._(
                    "%(title)s (%(sku)s) costs %(price)s and is %(stock)s.",
                    title=detail.title,
                    sku=detail.sku,
                    price=_price_phrase(r, detail),
                    stock=_stock_phrase(r, detail),
                )
            ]
            if detail.material:
                facts.append(r._("Material: %(material)s.", material=detail.material))
            if detail.sizes:
                facts.append(r._("Sizes: %(sizes)s.", sizes=", ".join(detail.sizes)))
            if detail.colours:
                facts.append(r._("Colours: %(colours)s.", colours=", ".join(detail.colours)))
            if detail.care:
                facts.append(r._("Care: %(care)s", care=detail.care))
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
            parts = [r._("Here's what I found:") + "\n" + "\n".join(_card_line(r, c) for c in exact)] if exact else []
            if close:
                lead = r._("Also close:") if exact else r._("These are close to what you asked for:")
                parts.append(lead + "\n" + "\n".join(_card_line(r, c) for c in close))
            turn.reply = "\n".join(parts)
        else:
            turn.reply = r._(
                "I couldn't find a product matching that. Could you describe it differently, or tell me a price range?"
            )

    async def _policy(self, ctx: ToolContext, turn: EngineTurn, text: str) -> None:
        answer = await self._call(ctx, turn, "policy_answer", question=text, max_passages=1)
        assert isinstance(answer, eng.PolicyAnswerResult)
        if not answer.found:
            await self._hand_off(ctx, turn, eng.HandoffReason.MISSING_KNOWLEDGE, f"No policy answers: {text}")
            return
        turn.reply = _cite(Replies(turn.language), answer.passages[0])

    async def _hand_off(self, ctx: ToolContext, turn: EngineTurn, reason: eng.HandoffReason, summary: str) -> None:
        result = await self._call(ctx, turn, "handoff_to_human", reason=reason, summary=summary[:1000].ljust(5))
        assert isinstance(result, eng.HandoffResult)
        turn.handoff = result
        turn.reply = Replies(turn.language)._(
            "I've passed this to a colleague, who will get back to you here. Your reference is %(reference)s.",
            reference=result.reference,
        )
