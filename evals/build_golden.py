"""Write the golden eval sets, `evals/golden/<use case>.jsonl`, from the seeded demo shop.

    HUB_DATA_DIR=/tmp/golden-demo hub seed demo
    python -m evals.build_golden --data-dir /tmp/golden-demo [--check]

Shopper messages, operator purposes and photo requests are written here by hand; every fact an expectation
names (SKUs, titles, order statuses, policy passages, customer names, segments, next actions) is read from the
demo database, so each case says what the demo shop really holds. The demo is built from a fixed seed relative
to the moment it was seeded and no absolute date is written, so the output is the same for every seeding.

`--check` also runs the deterministic engine on the customer_reply cases, the intent router on the
intent_route cases and the photo request parser on the photo_brief cases, and lists every case where they
disagree with the expectation (the expectation stays what a correct answer does).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agents.engine import DeterministicEngine, Pending, ShopVoice
from agents.router import IntentRouter
from evals.cases import GOLDEN_DIR, MIN_CASES, USE_CASES, EvalCase, Expect
from hub.db import models as m
from hub.db.engine import create_engine, session_factory
from hub.knowledge.passages import split_passages
from hub.languages import Language
from hub.prompting.outputs import (
    AspectRatio,
    CrmCustomerSummary,
    CrmFollowupDraft,
    CustomerSegment,
    FollowupChannel,
    Intent,
    NextAction,
    Sentiment,
)
from hub.seed.catalog import SHOP_SLUG
from hub.tenancy.config import TenantConfig
from hub.text import format_money
from tools import crm
from tools import engagement as eng
from tools.context import Audience, ToolContext
from tools.crm import followup
from tools.crm.next_action import SELLING_ACTIONS
from tools.crm.profile import build_profile, orders_text
from tools.photography import read_request
from tools.seo import CLAIM_WORDS, product_record

PREFIXES = {
    "customer_reply": "reply",
    "intent_route": "route",
    "crm_customer_summary": "summary",
    "crm_followup_draft": "followup",
    "next_best_action": "nba",
    "seo_product_copy": "seo",
    "photo_brief": "photo",
}
"""Case ids are `<prefix>-NNN`, numbered in the order the cases are listed here."""

DB_AGE_DAYS = 7
"""Expectations that move with the calendar (segments, next actions) hold for a demo seeded up to this many days
before the eval runs: the acceptable values are those the rules give on any of those days."""

SEARCH, GET, STOCK, ORDER, POLICY, RECOMMEND, HANDOFF = (
    "search_products",
    "get_product",
    "check_stock",
    "order_status",
    "policy_answer",
    "recommend_products",
    "handoff_to_human",
)
ENGAGEMENT_TOOL_NAMES = frozenset(spec.name for spec in eng.ENGAGEMENT_TOOLS)
_ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


class BuildError(RuntimeError):
    """The demo data no longer supports a hand-written case: the message names the case and the fact."""


# --- the demo shop -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Card:
    """What a case may quote about one product."""

    sku: str
    title: str
    price: str
    stock: int


@dataclass
class Shop:
    session: AsyncSession
    tenant: m.Tenant
    anchor: datetime
    """When the demo was seeded: every date in it is relative to this moment."""
    tz: ZoneInfo
    currency: str
    products: dict[str, m.Product]
    customers: dict[str, m.Customer]
    """By email."""
    orders: dict[str, m.Order]
    owners: dict[str, m.Customer]
    """Order number → the customer who placed it."""
    policies: dict[str, m.PolicyDocument]
    lifetime_values: dict[str, Decimal]
    """Email → lifetime value, for every customer."""

    def operator(self) -> ToolContext:
        return ToolContext(
            session=self.session, tenant_id=self.tenant.id, audience=Audience.OPERATOR, channel=m.Channel.WEB
        )

    def shopper(self) -> ToolContext:
        return ToolContext(
            session=self.session, tenant_id=self.tenant.id, audience=Audience.CUSTOMER, channel=m.Channel.WEB
        )

    def product(self, sku: str) -> m.Product:
        if sku not in self.products:
            raise BuildError(f"the demo shop has no product {sku}")
        return self.products[sku]

    def card(self, sku: str) -> Card:
        p = self.product(sku)
        return Card(sku=p.sku, title=p.title, price=_money(p.price), stock=p.stock)

    def customer(self, email: str) -> m.Customer:
        if email not in self.customers:
            raise BuildError(f"the demo shop has no customer {email}")
        return self.customers[email]

    def order(self, number: str) -> m.Order:
        if number not in self.orders:
            raise BuildError(f"the demo shop has no order {number}")
        return self.orders[number]

    def other_customer(self, customer: m.Customer) -> m.Customer:
        """Return a customer a careless answer could mix up with this one: same first name, else same surname."""
        words = customer.name.split()
        first, last = words[0], words[-1]
        others = [c for c in self.customers.values() if c.id != customer.id]
        for same in (lambda c: c.name.split()[0] == first, lambda c: c.name.split()[-1] == last):
            if matches := sorted((c for c in others if same(c)), key=lambda c: c.email):
                return matches[0]
        return min(others, key=lambda c: c.email)


def _money(amount: Decimal) -> str:
    """Write a demo-shop (USD) amount the way the tools' grouped figures read."""
    return format_money(amount, "USD", style="grouped")


async def load_shop(session: AsyncSession) -> Shop:
    tenant = (await session.execute(select(m.Tenant).where(m.Tenant.slug == SHOP_SLUG))).scalar_one_or_none()
    if tenant is None:
        raise BuildError("no demo shop in this database: run `hub seed demo` with the same data dir first")
    config = TenantConfig.model_validate(tenant.settings or {})
    data = ToolContext(session=session, tenant_id=tenant.id, audience=Audience.OPERATOR, channel=m.Channel.WEB).data
    customers = {c.email: c for c in await data.customers.list()}
    by_id = {c.id: c for c in customers.values()}
    orders = {o.number: o for o in await data.orders.list()}
    return Shop(
        session=session,
        tenant=tenant,
        anchor=tenant.created_at,
        tz=ZoneInfo(config.timezone),
        currency=config.currency,
        products={p.sku: p for p in await data.products.list()},
        customers=customers,
        orders=orders,
        owners={number: by_id[o.customer_id] for number, o in orders.items()},
        policies={d.slug: d for d in await data.policies.list()},
        lifetime_values={c.email: Decimal(value) for c, _, value, _ in await data.customer_activity.list()},
    )


@dataclass(frozen=True)
class Snapshot:
    """A customer's profile as the CRM tools see it on one day."""

    today: date
    profile: crm.CustomerProfile


async def snapshots(shop: Shop, customer: m.Customer) -> tuple[list[Snapshot], list[m.Order]]:
    """Return the customer's profile on each day from the seeding to DB_AGE_DAYS later, and their orders, newest first."""
    result: list[Snapshot] = []
    orders: list[m.Order] = []
    for offset in range(DB_AGE_DAYS + 1):
        now = shop.anchor + timedelta(days=offset)
        today = now.astimezone(shop.tz).date()
        profile, orders = await build_profile(shop.operator(), customer, today=today, currency=shop.currency)
        # The profile counts days from the wall clock; count them from the simulated day instead.
        days = (now - orders[0].placed_at).days if orders else None
        result.append(Snapshot(today, profile.model_copy(update={"days_since_last_order": days})))
    return result, orders


def _unique(values: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


# --- intent_route ------------------------------------------------------------------------------------

ROUTE_CASES: list[tuple[str, Intent]] = [
    ("lookin for a warm winter coat thats not crazy expensive, like under 250", Intent.PRODUCT_SEARCH),
    ("u got any linen trousers in a 30 waist", Intent.PRODUCT_SEARCH),
    ("need a gift for my dad. leather belts?? what have you got", Intent.PRODUCT_SEARCH),
    ("is the waxed cotton field jacket lined or is it just the one layer", Intent.PRODUCT_QUESTION),
    (
        "Quick question about the selvedge jeans. How much do they stretch after wearing? Do they shrink in the wash",
        Intent.PRODUCT_QUESTION,
    ),
    ("whats the difference between the pima tee and the slub tee fabric wise", Intent.PRODUCT_QUESTION),
    ("when will the leather chelsea boot be back in 42 its been sold out forever", Intent.STOCK_CHECK),
    ("do u still have the sage canvas low tops in 39 or are they gone", Intent.STOCK_CHECK),
    ("is the merino henly available in oatmeal size s", Intent.STOCK_CHECK),
    ("what would look good with a rust slip dress for a wedding, shoes and bag", Intent.RECOMMENDATION),
    ("I have a trip to scotland in march. which of your jackets would you go for", Intent.RECOMMENDATION),
    ("whats a good present for my girlfriend around 100 bucks she loves cosy stuff", Intent.RECOMMENDATION),
    ("hey where is my stuff?? ordered last monday and nothing yet", Intent.ORDER_STATUS),
    ("A-11502 still says processing after 4 days... whats the holdup", Intent.ORDER_STATUS),
    ("Has my parcel been shipped yet? I paid on Friday and haven't had the email", Intent.ORDER_STATUS),
    ("oops i put the wrong house number on my order can u fix it before it ships", Intent.ORDER_CHANGE),
    ("can I add a beanie to the order i just placed so it all comes together", Intent.ORDER_CHANGE),
    ("pls cancel A-12088 i changed my mind", Intent.ORDER_CHANGE),
    ("the dress doesnt fit, how do i send it back", Intent.RETURNS_REFUNDS),
    ("I returned my boots two weeks ago and still no money. when will I get my refund?", Intent.RETURNS_REFUNDS),
    ("bought socks wrong size can i return them or nah", Intent.RETURNS_REFUNDS),
    ("how fast is express shipping to chicago", Intent.SHIPPING_DELIVERY),
    ("do you deliver to ireland? what about customs fees", Intent.SHIPPING_DELIVERY),
    ("If I order before lunch today will it go out today", Intent.SHIPPING_DELIVERY),
    ("my card got charged twice for the same order", Intent.PAYMENT),
    ("can I split the payment with klarna", Intent.PAYMENT),
    ("does the gift card work together with paypal at checkout", Intent.PAYMENT),
    ("I cant log into my account, the reset link says expired", Intent.ACCOUNT),
    ("how do i update the address saved in my profile", Intent.ACCOUNT),
    ("I want a copy of all the personal data you have on me", Intent.ACCOUNT),
    ("can i get a vat invoice for order A-11230 please my accountant needs it", Intent.INVOICE),
    ("the receipt has the wrong company name on it, can you change it", Intent.INVOICE),
    ("where do I find invoices for my past orders", Intent.INVOICE),
    ("pls take me off the newsletter, getting way too many emails", Intent.SUBSCRIPTION),
    ("sign me up for whatsapp updates about restocks", Intent.SUBSCRIPTION),
    ("i never got the welcome code after subscribing to the newsletter", Intent.SUBSCRIPTION),
    ("the packaging was gorgeous and the hoodie is even better in person, 10/10", Intent.FEEDBACK),
    ("just wanted to say your customer service lady Maya was so helpful yesterday", Intent.FEEDBACK),
    ("suggestion: it would be nice to filter by fabric on the website", Intent.FEEDBACK),
    ("this is ridiculous, my order is 2 weeks late and nobody replies to my emails", Intent.COMPLAINT),
    (
        "the boots fell apart after a month. for that price I expected way better. really disappointed",
        Intent.COMPLAINT,
    ),
    ("your courier threw my parcel over the fence and it got soaked, absolutely unacceptable", Intent.COMPLAINT),
    ("can i speak to a manager", Intent.HUMAN_HANDOFF),
    ("I'd rather talk this through with a real person, can someone call me", Intent.HUMAN_HANDOFF),
    ("bot you arent helping, transfer me to a human pls", Intent.HUMAN_HANDOFF),
    ("heyyy", Intent.GREETING),
    ("Good evening, anyone there?", Intent.GREETING),
    ("hello hello is this thing on", Intent.GREETING),
    ("can you recommend a good sushi place near union square", Intent.OUT_OF_SCOPE),
    ("write me a poem about cats", Intent.OUT_OF_SCOPE),
    ("whats the capital of peru", Intent.OUT_OF_SCOPE),
]


ROUTE_CASES_TRANSLATED: list[tuple[str, Intent, Language]] = [
    # Written the way shoppers type in the shop's other languages, not translated from the English ones.
    ("busco unas botas chelsea de piel marrón", Intent.PRODUCT_SEARCH, "es"),
    ("¿la chaqueta de lluvia es impermeable de verdad o solo repele el agua?", Intent.PRODUCT_QUESTION, "es"),
    ("¿os queda la camiseta de merino de manga larga en talla L?", Intent.STOCK_CHECK, "es"),
    ("¿qué me pongo con un vestido lencero para una boda? zapatos y bolso", Intent.RECOMMENDATION, "es"),
    ("¿dónde está mi pedido? lo hice el lunes y todavía nada", Intent.ORDER_STATUS, "es"),
    ("quiero cancelar el pedido A-12088, ya no lo necesito", Intent.ORDER_CHANGE, "es"),
    ("me habéis cobrado dos veces el mismo pedido en la tarjeta", Intent.PAYMENT, "es"),
    ("no puedo entrar en mi cuenta, el enlace para cambiar la contraseña ha caducado", Intent.ACCOUNT, "es"),
    ("¿me podéis hacer una factura con el nombre de mi empresa? es para la gestoría", Intent.INVOICE, "es"),
    ("Ich suche einen warmen Wintermantel, aber nicht zu teuer, so bis 250", Intent.PRODUCT_SEARCH, "de"),
    ("Ist die Waxed Cotton Field Jacket gefüttert oder nur einlagig?", Intent.PRODUCT_QUESTION, "de"),
    ("Gibt es die Chelsea Boots in 42 bald wieder? Die sind schon ewig ausverkauft", Intent.STOCK_CHECK, "de"),
    ("Ich fahre im März nach Schottland, welche Jacke würdet ihr mir empfehlen?", Intent.RECOMMENDATION, "de"),
    ("Das Kleid passt leider nicht, wie schicke ich es zurück?", Intent.RETURNS_REFUNDS, "de"),
    ("Wie schnell ist der Expressversand nach Chicago?", Intent.SHIPPING_DELIVERY, "de"),
    ("Bitte tragt mich aus dem Newsletter aus, das sind viel zu viele Mails", Intent.SUBSCRIPTION, "de"),
    (
        "Eine Frechheit, meine Bestellung ist zwei Wochen zu spät und keiner antwortet auf meine Mails",
        Intent.COMPLAINT,
        "de",
    ),
    ("Was ist eigentlich die Hauptstadt von Peru?", Intent.OUT_OF_SCOPE, "de"),
    ("Vous avez des pantalons en lin, taille 38 ?", Intent.PRODUCT_SEARCH, "fr"),
    (
        "Le jean selvedge, il se détend beaucoup après quelques ports ? Il rétrécit au lavage ?",
        Intent.PRODUCT_QUESTION,
        "fr",
    ),
    ("Est-ce que le henley en mérinos est dispo en taille S, coloris avoine ?", Intent.STOCK_CHECK, "fr"),
    ("la commande A-11502 est toujours « en préparation » depuis 4 jours, ça bloque où ?", Intent.ORDER_STATUS, "fr"),
    (
        "J'ai mis le mauvais numéro de rue sur ma commande, vous pouvez corriger avant l'envoi ?",
        Intent.ORDER_CHANGE,
        "fr",
    ),
    ("Je peux payer en plusieurs fois avec Klarna ?", Intent.PAYMENT, "fr"),
    ("Où est-ce que je trouve les factures de mes anciennes commandes ?", Intent.INVOICE, "fr"),
    ("Je voudrais parler à un vrai conseiller, pas à un robot", Intent.HUMAN_HANDOFF, "fr"),
    ("Bonsoir, il y a quelqu'un ?", Intent.GREETING, "fr"),
    ("Avete delle cinture in pelle? Cerco un regalo per mio papà", Intent.PRODUCT_SEARCH, "it"),
    ("Che differenza c'è tra la maglietta in pima e quella slub come tessuto?", Intent.PRODUCT_QUESTION, "it"),
    ("Il trench color cachi è ancora disponibile o è finito?", Intent.STOCK_CHECK, "it"),
    ("Un regalo per la mia ragazza sui 100 dollari? Adora le cose morbide e calde", Intent.RECOMMENDATION, "it"),
    ("Ho restituito gli stivali due settimane fa e il rimborso non è ancora arrivato", Intent.RETURNS_REFUNDS, "it"),
    ("Spedite anche in Irlanda? Ci sono dazi doganali da pagare?", Intent.SHIPPING_DELIVERY, "it"),
    ("Come faccio a cambiare l'indirizzo salvato nel mio profilo?", Intent.ACCOUNT, "it"),
    (
        "Il corriere ha lanciato il pacco oltre il cancello ed è arrivato fradicio. Inaccettabile!",
        Intent.COMPLAINT,
        "it",
    ),
    ("Mi scrivi una poesia sui gatti?", Intent.OUT_OF_SCOPE, "it"),
    ("Procuro um casaco de inverno quente que não seja muito caro, até uns 250", Intent.PRODUCT_SEARCH, "pt"),
    ("A caneca de grés pode ir à máquina de lavar loiça?", Intent.PRODUCT_QUESTION, "pt"),
    ("Ainda têm as sapatilhas de lona verde-salva no 39 ou já esgotaram?", Intent.STOCK_CHECK, "pt"),
    ("Que sapatos ficam bem com um vestido de linho para um casamento?", Intent.RECOMMENDATION, "pt"),
    ("A minha encomenda já foi enviada? Paguei na sexta e ainda não recebi o email", Intent.ORDER_STATUS, "pt"),
    ("Posso juntar um gorro à encomenda que acabei de fazer, para vir tudo junto?", Intent.ORDER_CHANGE, "pt"),
    ("Não recebi o código de boas-vindas depois de subscrever a newsletter", Intent.SUBSCRIPTION, "pt"),
    ("A embalagem estava linda e a camisola ainda é mais bonita ao vivo, 10/10", Intent.FEEDBACK, "pt"),
    ("Olá olá, está aí alguém?", Intent.GREETING, "pt"),
]


def build_intent_route() -> list[tuple[dict[str, Any], Expect]]:
    english = [({"message": message}, Expect(intent=intent.value)) for message, intent in ROUTE_CASES]
    translated = [
        ({"message": message}, Expect(intent=intent.value, language=language))
        for message, intent, language in ROUTE_CASES_TRANSLATED
    ]
    return english + translated


# --- customer_reply ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplyCase:
    """One shopper message. Strings are templates: `{shop}`; with `sku`: `{sku}`, `{title}`, `{price}`,
    `{units}` (the price's whole dollars, which a reply in any language writes), `{stock}` and `{rec.title}` (the first item recommend_products suggests to go with it); with `order`:
    `{order}`, `{email}`, `{phone}`, `{status}`, `{carrier}`, `{tracking}`, `{item}`, `{other_email}` (another
    customer's); always `{p[SKU-1001].title}` and the like."""

    message: str
    intent: Intent
    tools: tuple[str, ...]
    reference: str
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    sku: str | None = None
    order: str | None = None
    policy: str | None = None
    """Slug of the policy whose passage answers the question; `include` phrases must be in that passage."""
    language: Language = "en"
    """The language the message is written in and the reply is expected in. A case in another language expects
    only what reads the same in every language (SKUs, titles, order numbers, carriers, whole numbers)."""


NO_DISCOUNT = "% off"

REPLY_CASES: list[ReplyCase] = [
    ReplyCase(
        "hiya :)",
        Intent.GREETING,
        (),
        "Hi there, welcome to {shop}! What can I help you with today?",
        exclude=(NO_DISCOUNT,),
    ),
    ReplyCase(
        "good morning! anyone around?",
        Intent.GREETING,
        (),
        "Good morning! Yes, I'm here. I can help with products, orders, delivery or returns. What do you need?",
    ),
    ReplyCase(
        "got any trench coats",
        Intent.PRODUCT_SEARCH,
        (SEARCH,),
        "Yes, the {title} ({sku}) is in stock at {price}. The original {p[SKU-1125].title} and the Khaki one "
        "are sold out right now.",
        include=("Gabardine Trench Coat", "{sku}"),
        exclude=(NO_DISCOUNT,),
        sku="SKU-1132",
    ),
    ReplyCase(
        "do u have a leather weekender bag",
        Intent.PRODUCT_SEARCH,
        (SEARCH,),
        "We do: the {title} ({sku}) is {price}, and there are only {stock} left.",
        include=("{title}", "{sku}"),
        exclude=(NO_DISCOUNT,),
        sku="SKU-1190",
    ),
    ReplyCase(
        "looking for a card holder under $45",
        Intent.PRODUCT_SEARCH,
        (SEARCH,),
        "The {title} ({sku}) is {price}, just under your budget, with only {stock} left.",
        include=("{title}", "{price}"),
        exclude=(NO_DISCOUNT, "{p[SKU-1211].sku}"),
        sku="SKU-1197",
    ),
    ReplyCase(
        "any silk dresses??",
        Intent.PRODUCT_SEARCH,
        (SEARCH,),
        "We have two in washed silk: the {p[SKU-1100].title} ({p[SKU-1100].sku}) at {p[SKU-1100].price} and the "
        "{p[SKU-1112].title} ({p[SKU-1112].sku}) at {p[SKU-1112].price}, both in stock.",
        include=("Washed Silk", "{p[SKU-1100].sku}"),
        exclude=(NO_DISCOUNT,),
        sku="SKU-1100",
    ),
    ReplyCase(
        "organic cotton hoodie in black size M",
        Intent.PRODUCT_SEARCH,
        (SEARCH,),
        "The {title} ({sku}) comes in black and size M, is made from organic cotton French terry and costs {price}.",
        include=("{title}", "{sku}"),
        exclude=(NO_DISCOUNT,),
        sku="SKU-1043",
    ),
    ReplyCase(
        "tell me more about SKU-1122",
        Intent.PRODUCT_QUESTION,
        (GET,),
        "The {title} ({sku}) is a hooded rain jacket in recycled nylon ripstop with a PFC-free water-repellent "
        "finish, taped seams and a two-way zip. It's {price}, in stock in sizes XS to XXL.",
        include=("{sku}", "{title}", "water-repellent"),
        exclude=("waterproof",),
        sku="SKU-1122",
    ),
    ReplyCase(
        "what's the Merino Scarf made of, is it itchy",
        Intent.PRODUCT_QUESTION,
        (GET,),
        "The {title} ({sku}) is 100% merino wool rib knit, warm, soft and non-itchy. Hand wash it cold and dry flat.",
        include=("{title}", "merino wool"),
        exclude=("cashmere",),
        sku="SKU-1194",
    ),
    ReplyCase(
        "how do i wash the Tencel Slip Dress",
        Intent.PRODUCT_QUESTION,
        (GET,),
        "Machine wash the {title} cold on a gentle cycle and line dry.",
        include=("{title}", "gentle cycle", "line dry"),
        exclude=("dry clean only",),
        sku="SKU-1098",
    ),
    ReplyCase(
        "does the Leather Chelsea Boot — Cognac come in size 47",
        Intent.PRODUCT_QUESTION,
        (GET,),
        "Sorry, the {title} ({sku}) goes from EU 36 to 46, so there's no 47, and it's out of stock at the moment.",
        include=("{title}", "46"),
        sku="SKU-1153",
    ),
    ReplyCase(
        "is the Stoneware Mug — Stone dishwasher safe",
        Intent.PRODUCT_QUESTION,
        (GET,),
        "Yes, the {title} ({sku}) is dishwasher and microwave safe.",
        include=("{title}", "dishwasher"),
        exclude=("hand wash only",),
        sku="SKU-1217",
    ),
    ReplyCase(
        "is the Gabardine Trench Coat — Khaki in stock?",
        Intent.STOCK_CHECK,
        (STOCK,),
        "Sorry, the {title} ({sku}) is out of stock right now.",
        include=("{title}", "out of stock"),
        exclude=("is in stock",),
        sku="SKU-1139",
    ),
    ReplyCase(
        "any Pima Cotton Crew Tee — Mustard left in M?",
        Intent.STOCK_CHECK,
        (STOCK,),
        "The {title} ({sku}) comes in M, but it's running low: only {stock} left.",
        include=("{title}", "{stock} left"),
        exclude=("out of stock",),
        sku="SKU-1008",
    ),
    ReplyCase(
        "do you have the Loopback Zip Hoodie — Charcoal in XL",
        Intent.STOCK_CHECK,
        (STOCK,),
        "Yes, the {title} ({sku}) comes in XL and is in stock.",
        include=("{title}", "in stock"),
        exclude=("out of stock", "sold out"),
        sku="SKU-1057",
    ),
    ReplyCase(
        "is the Merino Long Sleeve Tee in stock in size L",
        Intent.STOCK_CHECK,
        (STOCK,),
        "Yes, the {title} ({sku}) is in stock in L.",
        include=("{title}", "in stock"),
        exclude=("out of stock", "sold out"),
        sku="SKU-1005",
    ),
    ReplyCase(
        "i bought the Linen Wrap Dress, what shoes would go with it?",
        Intent.RECOMMENDATION,
        (RECOMMEND,),
        "With the {title}, try the {rec.title} ({rec.sku}) at {rec.price}; it's in stock.",
        include=("{rec.title}",),
        exclude=(NO_DISCOUNT,),
        sku="SKU-1093",
    ),
    ReplyCase(
        "what scarf would go with my Wool Blend Overcoat — Black",
        Intent.RECOMMENDATION,
        (RECOMMEND,),
        "The {rec.title} ({rec.sku}, {rec.price}) would go well with the {title}.",
        include=("{rec.title}",),
        exclude=(NO_DISCOUNT,),
        sku="SKU-1131",
    ),
    ReplyCase(
        "what goes well with the Selvedge Slim Jean",
        Intent.RECOMMENDATION,
        (RECOMMEND,),
        "The {rec.title} ({rec.sku}, {rec.price}) is an easy match for the {title}.",
        include=("{rec.title}",),
        exclude=(NO_DISCOUNT,),
        sku="SKU-1072",
    ),
    ReplyCase(
        "where is my order {order}, my email is {email}",
        Intent.ORDER_STATUS,
        (ORDER,),
        "Order {order} has shipped with {carrier}; your tracking number is {tracking}.",
        include=("{order}", "{status}", "{carrier}", "{tracking}"),
        exclude=("cancelled", "refunded", "{other_email}"),
        order="A-12030",
    ),
    ReplyCase(
        "whats the status of {order}? email {email}",
        Intent.ORDER_STATUS,
        (ORDER,),
        "Good news: order {order} is out for delivery with {carrier} today (tracking {tracking}).",
        include=("{order}", "{status}", "{carrier}"),
        exclude=("cancelled", "{other_email}"),
        order="A-12045",
    ),
    ReplyCase(
        "order {order} phone {phone} has it arrived",
        Intent.ORDER_STATUS,
        (ORDER,),
        "Yes, order {order} ({item}) has been delivered by {carrier}.",
        include=("{order}", "{status}"),
        exclude=("cancelled", "out for delivery"),
        order="A-10001",
    ),
    ReplyCase(
        "hi can you check order {order} for me, its {email}",
        Intent.ORDER_STATUS,
        (ORDER,),
        "Order {order} is processing: we're packing it now, and you'll get the tracking number by email once it ships.",
        include=("{order}", "{status}"),
        exclude=("cancelled", "{other_email}"),
        order="A-12070",
    ),
    ReplyCase(
        "what's happening with my refund on order {order} {email}",
        Intent.ORDER_STATUS,
        (ORDER,),
        "Order {order} has been refunded, so the money is on its way back to your original payment method.",
        include=("{order}", "{status}"),
        exclude=("out for delivery", "{other_email}"),
        order="A-10048",
    ),
    ReplyCase(
        "where's my order {order}??",
        Intent.ORDER_STATUS,
        (),
        "I can check that for you. What's the email address or phone number on order {order}?",
        include=("email",),
        exclude=("{status}", "Leather Crossbody Bag"),
        order="A-12085",
    ),
    ReplyCase(
        "my parcel still hasnt come, my email is {email}",
        Intent.ORDER_STATUS,
        (),
        "Sorry it hasn't arrived yet. What's the order number, so I can look it up?",
        include=("order number",),
        exclude=("pending payment", "{order}"),
        order="A-12083",
    ),
    ReplyCase(
        "status of {order}? my email is {other_email}",
        Intent.ORDER_STATUS,
        (ORDER,),
        "I couldn't find an order with that number and email. Could you check both against your order confirmation?",
        exclude=("{status}", "{tracking}", "{carrier}"),
        order="A-12030",
    ),
    ReplyCase(
        "can I change the delivery address on my order",
        Intent.ORDER_CHANGE,
        (POLICY,),
        "You can change the delivery address while the order is Pending payment or Paid. Once it's Processing it "
        "can't be changed, but UPS and FedEx parcels can sometimes be redirected after shipping.",
        include=("Pending payment", "Processing"),
        policy="cancellations-order-changes",
    ),
    ReplyCase(  # asked for, not asked about: the cancellation starts, with the order and its contact
        "i want to cancel my order i placed an hour ago",
        Intent.ORDER_CHANGE,
        (),
        "I can ask the shop to cancel your order. What's your order number and the email or phone on the order?",
        include=("order number",),
    ),
    ReplyCase(
        "how long have i got to return something",
        Intent.RETURNS_REFUNDS,
        (POLICY,),
        "You can return unworn, unwashed items with their tags within 30 days of delivery.",
        include=("30 days", "unworn"),
        exclude=("60 days",),
        policy="returns-refunds",
    ),
    ReplyCase(
        "can i return a sweater i bought 3 weeks ago if i havent worn it",
        Intent.RETURNS_REFUNDS,
        (POLICY,),
        "Yes: unworn, unwashed items with their tags can be returned within 30 days of delivery, so three weeks "
        "is fine.",
        include=("30 days",),
        policy="returns-refunds",
    ),
    ReplyCase(
        "how long do refunds take after you get my return",
        Intent.RETURNS_REFUNDS,
        (POLICY,),
        "Once your return reaches our warehouse we refund it within 5 business days to your original payment "
        "method; banks usually take another 3–5 business days.",
        include=("5 business days",),
        policy="returns-refunds",
    ),
    ReplyCase(
        "can i swap my jeans for a bigger size, does that cost anything",
        Intent.RETURNS_REFUNDS,
        (POLICY,),
        "Exchanges are free for US orders within 30 days of delivery: start one and we'll email you a prepaid label.",
        include=("free", "prepaid label"),
        policy="exchanges",
    ),
    ReplyCase(
        "what happens if something arrives damaged",
        Intent.RETURNS_REFUNDS,
        (POLICY,),
        "Tell us within 14 days of delivery with a photo of the item and its label, and we'll send a free express "
        "replacement or refund you in full.",
        include=("14 days", "photo"),
        policy="damaged-faulty-wrong-items",
    ),
    ReplyCase(
        "how much is standard shipping in the us",
        Intent.SHIPPING_DELIVERY,
        (POLICY,),
        "Standard US shipping is $5.95 and takes 3–5 business days; it's free on orders of $75.00 or more.",
        include=("$5.95", "$75"),
        exclude=("DHL",),
        policy="shipping-delivery",
    ),
    ReplyCase(
        "whats the delivery cost and do i get free shipping over some amount",
        Intent.SHIPPING_DELIVERY,
        (POLICY,),
        "Standard shipping is $5.95 and free once your items come to $75.00 or more; express is $14.95.",
        include=("$5.95", "$75"),
        policy="shipping-delivery",
    ),
    ReplyCase(
        "do u ship to the uk and how long does it take",
        Intent.SHIPPING_DELIVERY,
        (POLICY,),
        "Yes, we ship to the United Kingdom with DHL Express for a flat $19.95; it takes 5–10 business days "
        "after dispatch.",
        include=("DHL Express", "10 business days"),
        exclude=("$5.95",),
        policy="international-shipping",
    ),
    ReplyCase(
        "do you replace parcels that get lost by the courier",
        Intent.SHIPPING_DELIVERY,
        (POLICY,),
        "Yes: we open an investigation with the carrier, and if the parcel isn't found within 7 business days we "
        "send a replacement by express or refund you in full.",
        include=("investigation", "7 business days"),
        policy="order-tracking",
    ),
    ReplyCase(
        "can i pay in installments",
        Intent.PAYMENT,
        (POLICY,),
        "US customers can pay in four interest-free instalments with Klarna on orders between $50.00 and $1,000.00.",
        include=("Klarna", "interest-free"),
        policy="payment-methods",
    ),
    ReplyCase(
        "do you accept crypto",
        Intent.PAYMENT,
        (POLICY,),
        "Sorry, we don't accept cryptocurrency. You can pay by card, PayPal, Apple Pay or Google Pay.",
        include=("cryptocurrency",),
        policy="payment-methods",
    ),
    ReplyCase(
        "do your gift cards expire",
        Intent.PAYMENT,
        (POLICY,),
        "No, our digital gift cards never expire, and you can spend them across several orders.",
        include=("never expire",),
        policy="gift-cards-discount-codes",
    ),
    ReplyCase(
        "how do i reset my password i forgot it",
        Intent.ACCOUNT,
        (POLICY,),
        "Use Forgot password on the sign-in page; the reset link is valid for 60 minutes.",
        include=("Forgot password", "60 minutes"),
        policy="account",
    ),
    ReplyCase(
        "please delete my account and all my data",
        Intent.ACCOUNT,
        (POLICY,),
        "We can delete your account: we verify your identity first and complete it within 30 days. Order and "
        "invoice records are kept for 7 years because tax law requires it.",
        include=("30 days", "7 years"),
        policy="account",
    ),
    ReplyCase(
        "i need an invoice with my company name on it for expenses",
        Intent.INVOICE,
        (POLICY,),
        "We can add a company name, billing address or tax ID to your invoice within 60 days of the order date.",
        include=("company name", "60 days"),
        policy="invoices-receipts",
    ),
    ReplyCase(
        "where do i download the pdf invoice",
        Intent.INVOICE,
        (POLICY,),
        "Your PDF invoice is in your account under Orders once the order ships, and I can resend it to the email "
        "on the order.",
        include=("PDF invoice", "account"),
        policy="invoices-receipts",
    ),
    ReplyCase(
        "how do i unsubscribe from your emails",
        Intent.SUBSCRIPTION,
        (POLICY,),
        "Use the unsubscribe link at the bottom of any newsletter or Communication preferences in your account; "
        "it takes effect within 24 hours.",
        include=("unsubscribe", "24 hours"),
        policy="newsletter-email-marketing",
    ),
    ReplyCase(
        "how do i stop the whatsapp promo messages",
        Intent.SUBSCRIPTION,
        (POLICY,),
        "Reply STOP to any of our WhatsApp messages and marketing messages stop straight away; order updates "
        "still come through.",
        include=("STOP",),
        policy="whatsapp-messages",
    ),
    ReplyCase(
        "just got my hoodie and honestly its the comfiest thing i own, thank u!!",
        Intent.FEEDBACK,
        (),
        "That's so lovely to hear, thank you! I'll pass it on to the {shop} team.",
        exclude=(NO_DISCOUNT,),
    ),
    ReplyCase(
        "love the new website, so much easier to find stuff",
        Intent.FEEDBACK,
        (),
        "Thank you for letting us know! I'll share it with the team.",
        exclude=(NO_DISCOUNT,),
    ),
    ReplyCase(
        "this is the third time my order has arrived late and nobody answers my emails. unacceptable",
        Intent.COMPLAINT,
        (HANDOFF,),
        "I'm really sorry. I've passed this to a colleague who will get back to you here; your reference is HO-XXXXXXXX.",
        include=("HO-",),
        exclude=(NO_DISCOUNT,),
    ),
    ReplyCase(
        "i am furious, the jeans ripped after one wear and your bot is useless",
        Intent.COMPLAINT,
        (HANDOFF,),
        "I'm sorry about your jeans. I've handed this to our customer care team, who will reply here; your "
        "reference is HO-XXXXXXXX.",
        include=("HO-",),
        exclude=(NO_DISCOUNT,),
    ),
    ReplyCase(
        "can i talk to an actual person pls",
        Intent.HUMAN_HANDOFF,
        (HANDOFF,),
        "Of course. I've passed the conversation to a colleague, who will get back to you here; your reference is HO-XXXXXXXX.",
        include=("HO-",),
    ),
    ReplyCase(
        "get me a human agent now",
        Intent.HUMAN_HANDOFF,
        (HANDOFF,),
        "I've handed you over to our customer care team; someone will reply here soon. Your reference is HO-XXXXXXXX.",
        include=("HO-",),
    ),
    ReplyCase(
        "can you help me with my maths homework",
        Intent.OUT_OF_SCOPE,
        (),
        "Sorry, I can only help with {shop}: our products, your orders, delivery and returns.",
    ),
    ReplyCase(
        "who won the football last night",
        Intent.OUT_OF_SCOPE,
        (),
        "I'm afraid I can't help with that; I can help with {shop} products, orders, delivery and returns.",
    ),
    # The shop's other languages, written the way shoppers there type. Replies in those languages write prices,
    # statuses and policy terms their own way, so these cases expect only what reads the same in every language.
    ReplyCase(
        "¡Hola! ¿Hay alguien por ahí?",
        Intent.GREETING,
        (),
        "¡Hola! Bienvenido a {shop}. ¿En qué puedo ayudarte?",
        exclude=(NO_DISCOUNT,),
        language="es",
    ),
    ReplyCase(
        "¿tenéis gabardinas? busco un trench en color camel",
        Intent.PRODUCT_SEARCH,
        (SEARCH,),
        "Sí, el {title} ({sku}) está disponible. El {p[SKU-1125].title} original y el caqui están agotados ahora mismo.",
        include=("Gabardine Trench Coat", "{sku}"),
        exclude=(NO_DISCOUNT,),
        sku="SKU-1132",
        language="es",
    ),
    ReplyCase(
        "¿Cuánto cuesta el Merino Scarf?",
        Intent.PRODUCT_QUESTION,
        (GET,),
        "El {title} ({sku}) cuesta {units} dólares: es de lana merino 100 %, suave y no pica.",
        include=("{title}", "{units}"),
        exclude=("cashmere",),
        sku="SKU-1194",
        language="es",
    ),
    ReplyCase(
        "¿Queda el Loopback Zip Hoodie — Charcoal en talla XL?",
        Intent.STOCK_CHECK,
        (STOCK,),
        "Sí, el {title} ({sku}) está disponible en XL.",
        include=("{title}",),
        sku="SKU-1057",
        language="es",
    ),
    ReplyCase(
        "hola, ¿dónde está mi pedido {order}? mi correo es {email}",
        Intent.ORDER_STATUS,
        (ORDER,),
        "Tu pedido {order} ya ha salido con {carrier}; el número de seguimiento es {tracking}.",
        include=("{order}", "{carrier}", "{tracking}"),
        exclude=("{other_email}",),
        order="A-12030",
        language="es",
    ),
    ReplyCase(
        "¿cuántos días tengo para devolver algo que no me he puesto?",
        Intent.RETURNS_REFUNDS,
        (POLICY,),
        "Puedes devolver los artículos sin usar, sin lavar y con las etiquetas en los 30 días siguientes a la entrega.",
        include=("30",),
        policy="returns-refunds",
        language="es",
    ),
    ReplyCase(
        "¿hacéis envíos a Reino Unido? ¿cuánto tarda?",
        Intent.SHIPPING_DELIVERY,
        (POLICY,),
        "Sí, enviamos a Reino Unido con DHL Express; tarda de 5 a 10 días laborables desde el envío.",
        include=("DHL Express",),
        policy="international-shipping",
        language="es",
    ),
    ReplyCase(
        "es la tercera vez que mi pedido llega tarde y nadie contesta a mis correos. Inaceptable.",
        Intent.COMPLAINT,
        (HANDOFF,),
        "Lo siento mucho. He pasado tu caso a un compañero que te responderá aquí; tu referencia es HO-XXXXXXXX.",
        include=("HO-",),
        exclude=(NO_DISCOUNT,),
        language="es",
    ),
    ReplyCase(
        "me acaba de llegar la sudadera y es lo más cómodo que tengo, ¡mil gracias!",
        Intent.FEEDBACK,
        (),
        "¡Qué alegría leer eso, gracias! Se lo haré llegar al equipo de {shop}.",
        exclude=(NO_DISCOUNT,),
        language="es",
    ),
    ReplyCase(
        "Guten Tag, ist da jemand?",
        Intent.GREETING,
        (),
        "Guten Tag! Ja, ich bin da. Ich helfe gern bei Produkten, Bestellungen, Versand oder Rücksendungen.",
        language="de",
    ),
    ReplyCase(
        "Habt ihr eine Weekender-Tasche aus Leder?",
        Intent.PRODUCT_SEARCH,
        (SEARCH,),
        "Ja: die {title} ({sku}) haben wir, es sind nur noch {stock} Stück übrig.",
        include=("{title}", "{sku}"),
        exclude=(NO_DISCOUNT,),
        sku="SKU-1190",
        language="de",
    ),
    ReplyCase(
        "Was kostet die Regenjacke SKU-1122?",
        Intent.PRODUCT_QUESTION,
        (GET,),
        "Die {title} ({sku}) kostet {units} Dollar und ist in den Größen XS bis XXL vorrätig.",
        include=("{sku}", "{title}", "{units}"),
        sku="SKU-1122",
        language="de",
    ),
    ReplyCase(
        "Wo bleibt meine Bestellung {order}? Meine E-Mail ist {email}",
        Intent.ORDER_STATUS,
        (ORDER,),
        "Gute Nachricht: Ihre Bestellung {order} wird heute von {carrier} zugestellt (Sendungsnummer {tracking}).",
        include=("{order}", "{carrier}"),
        exclude=("{other_email}",),
        order="A-12045",
        language="de",
    ),
    ReplyCase(
        "Wie lange habe ich Zeit, etwas zurückzuschicken?",
        Intent.RETURNS_REFUNDS,
        (POLICY,),
        "Ungetragene, ungewaschene Artikel mit Etikett können Sie innerhalb von 30 Tagen nach der Lieferung "
        "zurückgeben.",
        include=("30",),
        policy="returns-refunds",
        language="de",
    ),
    ReplyCase(
        "Ab welchem Bestellwert ist der Versand kostenlos?",
        Intent.SHIPPING_DELIVERY,
        (POLICY,),
        "Der Standardversand ist ab 75 Dollar Warenwert kostenlos; Express kostet bei jeder Bestellung extra.",
        include=("75",),
        policy="shipping-delivery",
        language="de",
    ),
    ReplyCase(
        "Ich bin echt sauer, die Jeans ist nach einmal Tragen gerissen und euer Bot hilft mir null.",
        Intent.COMPLAINT,
        (HANDOFF,),
        "Das mit Ihrer Jeans tut mir sehr leid. Ich habe das an unser Kundenservice-Team weitergegeben, das Ihnen "
        "hier antwortet; Ihre Referenz ist HO-XXXXXXXX.",
        include=("HO-",),
        exclude=(NO_DISCOUNT,),
        language="de",
    ),
    ReplyCase(
        "Wollte nur sagen: Die neue Website ist super, man findet alles viel schneller.",
        Intent.FEEDBACK,
        (),
        "Vielen Dank für die Rückmeldung! Ich gebe das gern an das Team weiter.",
        exclude=(NO_DISCOUNT,),
        language="de",
    ),
    ReplyCase(
        "Kann ich bitte mit einem echten Menschen sprechen?",
        Intent.HUMAN_HANDOFF,
        (HANDOFF,),
        "Natürlich. Ich habe das Gespräch an einen Kollegen übergeben, der sich hier bei Ihnen meldet; Ihre Referenz "
        "ist HO-XXXXXXXX.",
        include=("HO-",),
        language="de",
    ),
    ReplyCase(
        "Bonjour ! Il y a quelqu'un ?",
        Intent.GREETING,
        (),
        "Bonjour ! Oui, je suis là. Je peux vous aider pour les produits, les commandes, la livraison ou les retours.",
        language="fr",
    ),
    ReplyCase(
        "Vous avez des robes en soie ?",
        Intent.PRODUCT_SEARCH,
        (SEARCH,),
        "Nous en avons deux en soie lavée : la {p[SKU-1100].title} ({p[SKU-1100].sku}) et la {p[SKU-1112].title} "
        "({p[SKU-1112].sku}), toutes les deux en stock.",
        include=("Washed Silk", "{p[SKU-1100].sku}"),
        exclude=(NO_DISCOUNT,),
        sku="SKU-1100",
        language="fr",
    ),
    ReplyCase(
        "Combien coûte le Slub Cotton Crew Tee ?",
        Intent.PRODUCT_QUESTION,
        (GET,),
        "Le {title} ({sku}) coûte {units} dollars.",
        include=("{title}", "{units}"),
        sku="SKU-1001",
        language="fr",
    ),
    ReplyCase(
        "J'ai acheté la Linen Wrap Dress, quelles chaussures iraient avec ?",
        Intent.RECOMMENDATION,
        (RECOMMEND,),
        "Avec la {title}, essayez les {rec.title} ({rec.sku}) : elles sont en stock.",
        include=("{rec.title}",),
        exclude=(NO_DISCOUNT,),
        sku="SKU-1093",
        language="fr",
    ),
    ReplyCase(
        "Bonjour, vous pouvez vérifier ma commande {order} ? Mon e-mail : {email}",
        Intent.ORDER_STATUS,
        (ORDER,),
        "Votre commande {order} est en cours de préparation ; vous recevrez le numéro de suivi par e-mail dès "
        "qu'elle sera expédiée.",
        include=("{order}",),
        exclude=("{other_email}",),
        order="A-12070",
        language="fr",
    ),
    ReplyCase(
        "Je peux retourner un pull acheté il y a trois semaines si je ne l'ai pas porté ?",
        Intent.RETURNS_REFUNDS,
        (POLICY,),
        "Oui : les articles non portés, non lavés et avec leurs étiquettes peuvent être retournés dans les 30 jours "
        "suivant la livraison, donc trois semaines, ça passe.",
        include=("30",),
        policy="returns-refunds",
        language="fr",
    ),
    ReplyCase(
        "Combien coûte la livraison, et elle est offerte à partir de combien ?",
        Intent.SHIPPING_DELIVERY,
        (POLICY,),
        "La livraison standard est offerte dès 75 dollars d'articles ; l'express est payante sur toutes les commandes.",
        include=("75",),
        policy="shipping-delivery",
        language="fr",
    ),
    ReplyCase(
        "Le livreur a jeté mon colis par-dessus la clôture et tout est trempé. C'est inadmissible !",
        Intent.COMPLAINT,
        (HANDOFF,),
        "Je suis vraiment désolé. J'ai transmis votre message à un collègue qui vous répondra ici ; votre référence "
        "est HO-XXXXXXXX.",
        include=("HO-",),
        exclude=(NO_DISCOUNT,),
        language="fr",
    ),
    ReplyCase(
        "Juste pour dire que l'emballage était magnifique et le sweat encore plus beau en vrai, bravo !",
        Intent.FEEDBACK,
        (),
        "Merci beaucoup pour ce message ! Je le transmets à l'équipe de {shop}.",
        exclude=(NO_DISCOUNT,),
        language="fr",
    ),
    ReplyCase(
        "Ciao! C'è qualcuno?",
        Intent.GREETING,
        (),
        "Ciao, benvenuto da {shop}! Come posso aiutarti?",
        exclude=(NO_DISCOUNT,),
        language="it",
    ),
    ReplyCase(
        "cerco una felpa con cappuccio in cotone biologico, nera, taglia M",
        Intent.PRODUCT_SEARCH,
        (SEARCH,),
        "La {title} ({sku}) c'è in nero e in taglia M, in french terry di cotone biologico.",
        include=("{title}", "{sku}"),
        exclude=(NO_DISCOUNT,),
        sku="SKU-1043",
        language="it",
    ),
    ReplyCase(
        "Quanto costa il Gabardine Trench Coat — Camel?",
        Intent.PRODUCT_QUESTION,
        (GET,),
        "Il {title} ({sku}) costa {units} dollari ed è disponibile.",
        include=("{title}", "{units}"),
        sku="SKU-1132",
        language="it",
    ),
    ReplyCase(
        "il mio ordine {order} è arrivato? il mio numero è {phone}",
        Intent.ORDER_STATUS,
        (ORDER,),
        "Sì, l'ordine {order} ({item}) è stato consegnato da {carrier}.",
        include=("{order}",),
        order="A-10001",
        language="it",
    ),
    ReplyCase(
        "Entro quanti giorni posso restituire un articolo?",
        Intent.RETURNS_REFUNDS,
        (POLICY,),
        "Puoi restituire gli articoli non indossati, non lavati e con le etichette entro 30 giorni dalla consegna.",
        include=("30",),
        policy="returns-refunds",
        language="it",
    ),
    ReplyCase(
        "Spedite nel Regno Unito? In quanti giorni arriva?",
        Intent.SHIPPING_DELIVERY,
        (POLICY,),
        "Sì, spediamo nel Regno Unito con DHL Express: ci vogliono da 5 a 10 giorni lavorativi dalla spedizione.",
        include=("DHL Express",),
        policy="international-shipping",
        language="it",
    ),
    ReplyCase(
        "Sono furiosa: i jeans si sono strappati dopo averli messi una volta sola e il vostro bot non serve a niente.",
        Intent.COMPLAINT,
        (HANDOFF,),
        "Mi dispiace molto per i tuoi jeans. Ho passato la richiesta al nostro servizio clienti, che ti risponderà "
        "qui; il tuo riferimento è HO-XXXXXXXX.",
        include=("HO-",),
        exclude=(NO_DISCOUNT,),
        language="it",
    ),
    ReplyCase(
        "Volevo solo dirvi che il vostro servizio clienti ieri è stato gentilissimo, grazie di cuore!",
        Intent.FEEDBACK,
        (),
        "Grazie mille per avercelo detto! Lo riferirò al team.",
        exclude=(NO_DISCOUNT,),
        language="it",
    ),
    ReplyCase(
        "Mi aiuti con i compiti di matematica?",
        Intent.OUT_OF_SCOPE,
        (),
        "Mi dispiace, posso aiutarti solo con {shop}: i nostri prodotti, i tuoi ordini, le spedizioni e i resi.",
        language="it",
    ),
    ReplyCase(
        "Olá, bom dia! Está aí alguém?",
        Intent.GREETING,
        (),
        "Bom dia! Sim, estou aqui. Posso ajudar com produtos, encomendas, entregas ou devoluções.",
        language="pt",
    ),
    ReplyCase(
        "Têm porta-cartões em pele? Procuro um preto, até 45 dólares",
        Intent.PRODUCT_SEARCH,
        (SEARCH,),
        "Sim, o {title} ({sku}) está disponível, mas restam só {stock}.",
        include=("{title}", "{sku}"),
        exclude=(NO_DISCOUNT, "{p[SKU-1211].sku}"),
        sku="SKU-1197",
        language="pt",
    ),
    ReplyCase(
        "Quanto custa a Stoneware Mug — Stone? Pode ir à máquina?",
        Intent.PRODUCT_QUESTION,
        (GET,),
        "A {title} ({sku}) custa {units} dólares e pode ir à máquina de lavar loiça e ao micro-ondas.",
        include=("{title}", "{units}"),
        sku="SKU-1217",
        language="pt",
    ),
    ReplyCase(
        "Já reembolsaram a minha encomenda {order}? O meu email é {email}",
        Intent.ORDER_STATUS,
        (ORDER,),
        "A encomenda {order} já foi reembolsada: o dinheiro está a caminho do seu método de pagamento original.",
        include=("{order}",),
        exclude=("{other_email}",),
        order="A-10048",
        language="pt",
    ),
    ReplyCase(
        "A encomenda chegou danificada, o que é que faço?",
        Intent.RETURNS_REFUNDS,
        (POLICY,),
        "Avise-nos nos 14 dias seguintes à entrega, com uma fotografia do artigo e da etiqueta, e enviamos uma "
        "substituição por expresso ou devolvemos o valor total.",
        include=("14",),
        policy="damaged-faulty-wrong-items",
        language="pt",
    ),
    ReplyCase(
        "Quanto custam os portes? A partir de que valor são grátis?",
        Intent.SHIPPING_DELIVERY,
        (POLICY,),
        "O envio normal é grátis a partir de 75 dólares em artigos; o expresso paga-se sempre.",
        include=("75",),
        policy="shipping-delivery",
        language="pt",
    ),
    ReplyCase(
        "Isto é ridículo, a minha encomenda está duas semanas atrasada e ninguém responde aos meus emails!",
        Intent.COMPLAINT,
        (HANDOFF,),
        "Peço imensa desculpa. Passei o seu caso a um colega, que lhe responde aqui; a sua referência é HO-XXXXXXXX.",
        include=("HO-",),
        exclude=(NO_DISCOUNT,),
        language="pt",
    ),
    ReplyCase(
        "Adorei o novo site, agora é muito mais fácil encontrar as coisas!",
        Intent.FEEDBACK,
        (),
        "Muito obrigado por nos dizer! Vou partilhar com a equipa.",
        exclude=(NO_DISCOUNT,),
        language="pt",
    ),
    ReplyCase(
        "Quero falar com uma pessoa a sério, por favor.",
        Intent.HUMAN_HANDOFF,
        (HANDOFF,),
        "Com certeza. Passei a conversa a um colega, que lhe responde aqui em breve; a sua referência é HO-XXXXXXXX.",
        include=("HO-",),
        language="pt",
    ),
]


class _Products(dict[str, Card]):
    """`{p[SKU-1001].title}` in a template: the cards of the whole catalog, looked up on use."""

    def __init__(self, shop: Shop) -> None:
        super().__init__()
        self.shop = shop

    def __missing__(self, sku: str) -> Card:
        return self.shop.card(sku)


def _phone_local(phone: str) -> str:
    """Write a US number the way a shopper types it: `+15557957287` → `(555) 795-7287`."""
    digits = re.sub(r"\D", "", phone)
    if len(digits) != 11 or not digits.startswith("1"):
        return phone
    return f"({digits[1:4]}) {digits[4:7]}-{digits[7:]}"


def _policy_passage(shop: Shop, slug: str, phrases: Sequence[str], where: str) -> str:
    if slug not in shop.policies:
        raise BuildError(f"{where}: the demo shop has no policy {slug!r}")
    for passage in split_passages(shop.policies[slug].body):
        if all(phrase.casefold() in passage.casefold() for phrase in phrases):
            return passage
    raise BuildError(f"{where}: no passage of policy {slug!r} says all of {list(phrases)}")


async def _reply_fields(shop: Shop, case: ReplyCase) -> dict[str, Any]:
    fields: dict[str, Any] = {"shop": shop.tenant.name, "p": _Products(shop)}
    if case.sku:
        card = shop.card(case.sku)
        units = str(int(shop.product(case.sku).price))
        fields.update(sku=card.sku, title=card.title, price=card.price, units=units, stock=card.stock)
        if case.intent is Intent.RECOMMENDATION:
            recs = await eng.recommend_products(
                shop.shopper(),
                eng.RecommendProductsInput(sku=case.sku, kind=eng.RecommendationKind.COMPLEMENTARY),
            )
            if not recs.recommendations:
                raise BuildError(f"{case.message!r}: nothing goes with {case.sku}")
            fields["rec"] = shop.card(recs.recommendations[0].product.sku)
    if case.order:
        order, owner = shop.order(case.order), shop.owners[case.order]
        items = order.items or []
        fields.update(
            order=order.number,
            email=owner.email,
            phone=_phone_local(owner.phone or ""),
            status=str(order.status).replace("_", " "),
            carrier=order.carrier or "",
            tracking=order.tracking_number or "",
            item=items[0]["title"] if items else "",
            other_email=shop.other_customer(owner).email,
        )
    return fields


async def build_customer_reply(shop: Shop) -> list[tuple[dict[str, Any], Expect]]:
    cases = []
    for case in REPLY_CASES:
        unknown = set(case.tools) - ENGAGEMENT_TOOL_NAMES
        if unknown:
            raise BuildError(f"{case.message!r}: {sorted(unknown)} are not engagement tools")
        fields = await _reply_fields(shop, case)
        message = case.message.format(**fields)
        include = [phrase.format(**fields) for phrase in case.include]
        contexts = []
        if case.policy:
            contexts = [_policy_passage(shop, case.policy, include, repr(message))]
        cases.append(
            (
                {"message": message},
                Expect(
                    intent=case.intent.value,
                    tools=list(case.tools),
                    must_include=include,
                    must_not_include=[phrase.format(**fields) for phrase in case.exclude],
                    reference=case.reference.format(**fields),
                    reference_contexts=contexts,
                    language=case.language,
                ),
            )
        )
    return cases


# --- crm_customer_summary ----------------------------------------------------------------------------

SUMMARY_CUSTOMERS: list[str] = [
    # new: no order yet, or one order in the last 60 days
    "andre.novak@example.org",
    "arjun.green@example.com",
    "chiara_gonzalez@example.com",
    "chiara_hall@example.net",
    "amara_santos@example.com",
    "larsen.katya@example.net",
    "miller.wei@example.net",
    # active
    "aisha_johnson@example.com",
    "amara.mensah@example.net",
    "benjamin.kelly@example.com",
    "ahill@example.com",
    "ana_walker@example.com",
    "bpatel@example.org",
    # loyal
    "adams.felix@example.com",
    "anakim@example.org",
    "anderson.yusuf@example.com",
    "amensah@example.com",
    "benjaminlarsen@example.com",
    "hernandez.elijah@example.com",
    # vip
    "edubois@example.com",
    "isaac_miller@example.org",
    "zmuller@example.net",
    "iris_patel@example.com",
    "nikolai.nelson@example.org",
    "lucas.kowalski@example.com",
    # at risk
    "adubois@example.com",
    "aisha.king@example.com",
    "camilaflores@example.com",
    "ayoung@example.com",
    "ana_schmidt@example.com",
    "camila.taylor@example.org",
    # a year without an order: at risk today, lapsed within days
    "valentinagonzalez@example.net",
    "jonah.baker@example.com",
    "jasper.levi@example.com",
]


def _ago(days: int) -> str:
    if days == 0:
        return "today"
    if days == 1:
        return "yesterday"
    if days < 14:
        return f"{days} days ago"
    if days < 60:
        return f"about {round(days / 7)} weeks ago"
    return f"about {round(days / 30)} months ago"


def _issue_words(order: m.Order) -> str:
    status = m.OrderStatus(order.status)
    if status is m.OrderStatus.RETURN_REQUESTED:
        return f"the return on order {order.number} is still open"
    if status is m.OrderStatus.RETURNED:
        return f"order {order.number} has come back and its refund is due"
    return f"order {order.number} is past its estimated delivery date"


_STATUS_WORDS = {
    m.OrderStatus.PENDING_PAYMENT: "is waiting for payment",
    m.OrderStatus.PAID: "is paid",
    m.OrderStatus.PROCESSING: "is being packed",
    m.OrderStatus.SHIPPED: "has shipped",
    m.OrderStatus.OUT_FOR_DELIVERY: "is out for delivery",
    m.OrderStatus.DELIVERED: "was delivered",
    m.OrderStatus.CANCELLED: "was cancelled",
    m.OrderStatus.REFUNDED: "was refunded",
    m.OrderStatus.RETURN_REQUESTED: "has a return requested",
    m.OrderStatus.RETURNED: "was returned",
}


def _summary_reference(p: crm.CustomerProfile, orders: list[m.Order], issue_orders: list[m.Order]) -> str:
    sentences = []
    if not orders:
        sentences.append(f"{p.name} has an account but has not placed an order yet.")
    else:
        last = orders[0]
        status = _STATUS_WORDS[m.OrderStatus(last.status)]
        ago = _ago(p.days_since_last_order or 0)
        if len(orders) == 1:
            sentences.append(f"{p.name} has placed one order, {last.number}, {ago}; it {status}.")
        else:
            sentences.append(
                f"{p.name} has placed {len(orders)} orders worth {_money(p.lifetime_value)} in all; the latest, "
                f"{last.number}, was placed {ago} and {status}."
            )
    if issue_orders:
        issues = "; ".join(_issue_words(o) for o in issue_orders[:2])
        sentences.append(f"Needs attention: {issues}.")
    traits = [label for tag, label in (("vip", "A VIP"), ("wholesale", "A wholesale account")) if tag in p.tags]
    channels = [name for name, on in (("marketing email", p.marketing_opt_in), ("WhatsApp", p.whatsapp_opt_in)) if on]
    optins = f"opted in to {' and '.join(channels)}" if channels else "opted out of marketing on every channel"
    tail = f"{traits[0]}, {optins}" if traits else optins[0].upper() + optins[1:]
    if p.notes:
        tail += f"; latest note: {p.notes[-1].text.rstrip('.')}"
    sentences.append(tail + ".")
    return " ".join(sentences)


def _segments(snaps: list[Snapshot], top_spender: Decimal) -> list[str]:
    """Return the rules' segment on each day, plus those the prompt's definitions support equally."""
    found: list[CustomerSegment] = []
    for snap in snaps:
        p = snap.profile
        segment = crm.customer_segment(p)
        found.append(segment)
        late = [issue for issue in p.open_issues if " is late" in issue]
        if segment is CustomerSegment.AT_RISK and late:
            # The prompt calls a customer at risk for an unresolved complaint, not for a parcel running late.
            others = [issue for issue in p.open_issues if issue not in late]
            found.append(crm.customer_segment(p.model_copy(update={"open_issues": others})))
        if segment is CustomerSegment.LOYAL and p.lifetime_value >= top_spender:
            found.append(CustomerSegment.VIP)  # "clearly the shop's highest spenders", tagged or not
    return [s.value for s in _unique(found)]


async def build_crm_customer_summary(shop: Shop) -> list[tuple[dict[str, Any], Expect]]:
    vip_values = [shop.lifetime_values[c.email] for c in shop.customers.values() if "vip" in (c.tags or [])]
    top_spender = min(vip_values)
    cases = []
    for email in SUMMARY_CUSTOMERS:
        customer = shop.customer(email)
        snaps, orders = await snapshots(shop, customer)
        profile = snaps[0].profile
        issue_numbers = set(re.findall(r"\b[A-Z]-\d+\b", " ".join(profile.open_issues)))
        issue_orders = [o for o in orders if o.number in issue_numbers]
        segments = _segments(snaps, top_spender)
        reference = _summary_reference(profile, orders, issue_orders)
        as_summary = CrmCustomerSummary(
            summary=reference,
            segment=CustomerSegment(segments[0]),
            open_issues=profile.open_issues,
            sentiment=Sentiment.UNKNOWN,
            suggested_next_step="Review the account.",
        )
        if problems := crm.check_customer_summary(as_summary, profile, orders, conversations="", today=snaps[0].today):
            raise BuildError(f"summary of {email}: the reference breaks the summary rules: {problems}")
        cases.append(
            (
                {"customer": email},
                Expect(
                    must_include=[customer.name],
                    must_not_include=[shop.other_customer(customer).email],
                    fields={"segment": segments},
                    reference=reference,
                ),
            )
        )
    return cases


# --- next_best_action --------------------------------------------------------------------------------

NBA_CUSTOMERS: list[str] = [
    # an open return or refund
    "iris_patel@example.com",
    "zainabmoreau@example.com",
    "ava_perez@example.com",
    "aisha.muller@example.com",
    "larsen.katya@example.net",
    "nikolai.nelson@example.org",
    # no order yet
    "andre.novak@example.org",
    "arjun.green@example.com",
    "clark.elijah@example.com",
    # lapsed repeat customers who opted out of everything
    "ana_haddad@example.com",
    "camila.taylor@example.org",
    "ayoung@example.com",
    # nothing worth a message
    "ahill@example.com",
    "amara.mensah@example.net",
    "ali.amelia@example.com",
    # lapsed repeat customers who can be contacted
    "adubois@example.com",
    "aisha.king@example.com",
    "ali.ruby@example.net",
    "camilaflores@example.com",
    "blopez@example.com",
    # delivered 7 to 30 days ago
    "isaac_miller@example.org",
    "lucas.kowalski@example.com",
    "yusuf_lewis@example.com",
    "amensah@example.com",
    "benjaminlarsen@example.com",
    "tomas_adams@example.com",
    # delivered in the last few days
    "aishacampbell@example.com",
    "mateohughes@example.net",
    "ezra.miller@example.org",
    "ingrid_nguyen@example.org",
    # regular buyers
    "adams.felix@example.com",
    "aperez@example.org",
    "benjamin_green@example.com",
    "zmuller@example.net",
    "amara.thompson@example.com",
]

_RESTOCK_NOTE = re.compile(r"heads-up when the (?P<product>.+?) is restocked", re.IGNORECASE)


def _waits_for_restock(shop: Shop, customer: m.Customer) -> bool:
    """Tell whether a note asks to hear when an item is back, and a product of that name is sold out."""
    for note in customer.notes or []:
        if match := _RESTOCK_NOTE.search(str(note.get("text", ""))):
            wanted = match["product"].lower()
            if any(wanted in p.title.lower() and p.stock <= 0 for p in shop.products.values()):
                return True
    return False


def _actions(snaps: list[Snapshot], restock: bool) -> list[str]:
    """Return the rules' action on each day, widened where `_action_rules` and the prompt leave a choice."""
    found: list[NextAction] = []
    for snap in snaps:
        p = snap.profile
        if p.open_issues:
            found += [NextAction.RESOLVE_OPEN_ISSUE, NextAction.ESCALATE_TO_HUMAN]
            continue
        action = crm.suggest_next_action(p, snap.today).action
        found.append(action)
        if action is NextAction.REQUEST_REVIEW:
            found.append(NextAction.SEND_FOLLOWUP)  # a check-in after a delivery is also sound
        if restock and (p.marketing_opt_in or p.whatsapp_opt_in):
            found.append(NextAction.NOTIFY_BACK_IN_STOCK)
    contactable = any(s.profile.marketing_opt_in or s.profile.whatsapp_opt_in for s in snaps)
    if not contactable and set(found) & SELLING_ACTIONS:
        raise BuildError("a selling action for a customer who opted out of every channel")
    return [a.value for a in _unique(found)]


async def build_next_best_action(shop: Shop) -> list[tuple[dict[str, Any], Expect]]:
    cases = []
    for email in NBA_CUSTOMERS:
        customer = shop.customer(email)
        snaps, _ = await snapshots(shop, customer)
        actions = _actions(snaps, _waits_for_restock(shop, customer))
        cases.append(({"customer": email}, Expect(fields={"action": actions})))
    return cases


# --- crm_followup_draft ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FollowupCase:
    """One draft request. `purpose`, `reference` and `include` are templates: `{first}`, `{order}` (the
    case's order, else the last one), `{item}` (that order's first item), `{product}` (the `product` SKU's
    title), `{shop}`."""

    customer: str
    purpose: str
    channel: FollowupChannel
    reference: str
    include: tuple[str, ...] = ()
    order: str | None = None
    product: str | None = None


EMAIL, WHATSAPP = FollowupChannel.EMAIL, FollowupChannel.WHATSAPP
SIGN_OFF = "\n\nBest wishes,\nThe {shop} team"

FOLLOWUP_CASES: list[FollowupCase] = [
    FollowupCase(
        "mateohughes@example.net",
        "thank them for their last order",
        WHATSAPP,
        "Hi {first}, thank you for your order {order}! We hope you love your {item}. Just reply here if you need "
        "anything.",
        include=("{order}",),
    ),
    FollowupCase(
        "ezra.miller@example.org",
        "thank them for their order and say we hope it arrived safely",
        EMAIL,
        "Hi {first},\n\nThank you for your order {order}. We hope your {item} arrived safely and that you love it. "
        "If anything isn't right, just reply to this email." + SIGN_OFF,
        include=("{order}",),
    ),
    FollowupCase(
        "dramirez@example.com",
        "a short thank-you note for shopping with us again",
        EMAIL,
        "Hi {first},\n\nThank you for shopping with us again, it means a lot. We hope you enjoy your {item}."
        + SIGN_OFF,
    ),
    FollowupCase(
        "lewis.ava@example.net",
        "say thanks for the order and check the size fits",
        WHATSAPP,
        "Hi {first}, thanks again for your order {order}! How's the fit? If the size isn't right, just reply and "
        "we'll help you swap it.",
    ),
    FollowupCase(
        "isaac_miller@example.org",
        "ask for a review of their last order",
        EMAIL,
        "Hi {first},\n\nWe hope you're enjoying your {item}. If you have a minute, we'd love a short review of "
        "order {order}: it helps other customers choose." + SIGN_OFF,
    ),
    FollowupCase(
        "lucas.kowalski@example.com",
        "request a product review of the item they bought",
        EMAIL,
        "Hi {first},\n\nHow are you getting on with your {item}? We'd be grateful if you could leave a quick "
        "review." + SIGN_OFF,
        include=("review",),
    ),
    FollowupCase(
        "amensah@example.com",
        "ask how they like their order and whether they'd leave a rating",
        WHATSAPP,
        "Hi {first}, how are you finding your {item}? If you have a moment, a quick rating would mean a lot to us.",
    ),
    FollowupCase(
        "yusuf_lewis@example.com",
        "ask for feedback on their recent order",
        WHATSAPP,
        "Hi {first}, we hope order {order} was everything you hoped for. Any feedback on your {item}? Just reply here.",
    ),
    FollowupCase(
        "anderson.yusuf@example.com",
        "ask them to review their order {order}",
        EMAIL,
        "Hi {first},\n\nWe hope you're enjoying everything from order {order}. Would you leave us a short review? "
        "It only takes a minute." + SIGN_OFF,
        include=("{order}",),
    ),
    FollowupCase(
        "adubois@example.com",
        "win-back: we miss them, offer 15% off their next order with code COMEBACK15, valid until the end of the month",
        EMAIL,
        "Hi {first},\n\nIt's been a while, and we've missed you! Here's 15% off your next order with code COMEBACK15, "
        "valid until the end of the month." + SIGN_OFF,
        include=("COMEBACK15", "15%"),
    ),
    FollowupCase(
        "aisha.king@example.com",
        "win them back with 10% off using code MISSYOU10",
        WHATSAPP,
        "Hi {first}, we've missed you at {shop}! Here's 10% off your next order with code MISSYOU10.",
        include=("MISSYOU10", "10%"),
    ),
    FollowupCase(
        "camilaflores@example.com",
        "it's been a while since their last order; offer free shipping on the next one with code SHIPFREE",
        EMAIL,
        "Hi {first},\n\nIt's been a little while since your last order, so here's free shipping on your next one "
        "with code SHIPFREE." + SIGN_OFF,
        include=("SHIPFREE",),
    ),
    FollowupCase(
        "blopez@example.com",
        "re-engage them with 20% off new arrivals, code NEWIN20",
        EMAIL,
        "Hi {first},\n\nOur new arrivals are in, and we'd love to see you back: take 20% off them with code NEWIN20."
        + SIGN_OFF,
        include=("NEWIN20", "20%"),
    ),
    FollowupCase(
        "robinson.diego@example.net",
        "apologise that order {order} is taking longer than usual to ship and say we'll send tracking as soon as it "
        "leaves",
        EMAIL,
        "Hi {first},\n\nI'm sorry that order {order} is taking longer than usual to leave our warehouse. We'll "
        "email your tracking number as soon as it ships." + SIGN_OFF,
        include=("{order}",),
        order="A-12070",
    ),
    FollowupCase(
        "mwilliams26@example.net",
        "say sorry for the delay on order {order} and share that it's on its way with {carrier}",
        WHATSAPP,
        "Hi {first}, sorry for the wait on order {order}. It's on its way with {carrier} now, tracking number "
        "{tracking}.",
        include=("{order}", "{carrier}"),
        order="A-12030",
    ),
    FollowupCase(
        "mscott@example.org",
        "apologise that order {order} took longer than expected; it is out for delivery today",
        EMAIL,
        "Hi {first},\n\nSorry that order {order} took longer than expected. The good news: it's out for delivery "
        "today." + SIGN_OFF,
        include=("{order}",),
        order="A-12045",
    ),
    FollowupCase(
        "iris_patel@example.com",
        "update on their return for order {order}: we have the request and will confirm once it's processed",
        EMAIL,
        "Hi {first},\n\nWe have your return request for order {order} and will confirm as soon as it's processed."
        + SIGN_OFF,
        include=("{order}",),
        order="A-11897",
    ),
    FollowupCase(
        "hugo_okafor@example.net",
        "tell them their return for order {order} arrived and the refund goes out within 5 business days",
        WHATSAPP,
        "Hi {first}, your return for order {order} has arrived. Your refund goes out within 5 business days to "
        "your original payment method.",
        include=("{order}", "5 business days"),
        order="A-11978",
    ),
    FollowupCase(
        "stellarossi@example.com",
        "confirm we received the returned order {order} and the refund is being processed",
        EMAIL,
        "Hi {first},\n\nYour returned order {order} has reached us and your refund is being processed now." + SIGN_OFF,
        include=("{order}",),
        order="A-11867",
    ),
    FollowupCase(
        "daniel_robinson@example.com",
        "let them know how to send back order {order}: we emailed a prepaid label",
        EMAIL,
        "Hi {first},\n\nThanks for starting a return for order {order}. We've emailed you a prepaid label; just drop "
        "the parcel off and we'll take it from there." + SIGN_OFF,
        include=("{order}", "label"),
        order="A-12032",
    ),
    FollowupCase(
        "tomas_adams@example.com",
        "restock notice: the {product} they asked about is back in stock in EU 42",
        EMAIL,
        "Hi {first},\n\nGood news: the {product} is back in stock in EU 42, as you asked us to let you know."
        + SIGN_OFF,
        include=("{product}", "42"),
        product="SKU-1167",
    ),
    FollowupCase(
        "isaac.king@example.com",
        "let them know the {product} is available in EU 42 again",
        WHATSAPP,
        "Hi {first}, a quick heads-up: the {product} is available in EU 42 again.",
        include=("{product}", "42"),
        product="SKU-1167",
    ),
    FollowupCase(
        "ethan.garcia@example.org",
        "they wanted to know when the Chelsea boot is restocked: the {product} is in stock in EU 42",
        WHATSAPP,
        "Hi {first}, you asked us to tell you when the Chelsea boot was back: the {product} is in stock in EU 42 now.",
        include=("{product}",),
        product="SKU-1160",
    ),
    FollowupCase(
        "evelynivanova@example.net",
        "ask them to confirm their new shipping address before we dispatch order {order}",
        WHATSAPP,
        "Hi {first}, before we send order {order}, could you confirm your new shipping address? Just reply here.",
        include=("{order}", "address"),
    ),
    FollowupCase(
        "camila_brooks@example.com",
        "check the delivery address for order {order}, since they moved recently",
        EMAIL,
        "Hi {first},\n\nWe noticed you moved recently. Could you confirm the delivery address for order {order} "
        "before it ships?" + SIGN_OFF,
        include=("{order}", "address"),
    ),
    FollowupCase(
        "patel.chloe@example.com",
        "remind them order {order} is waiting for payment and will be cancelled after 48 hours if unpaid",
        EMAIL,
        "Hi {first},\n\nA quick reminder that order {order} is still waiting for payment. You can retry from the "
        "link in your order email; unpaid orders are cancelled after 48 hours." + SIGN_OFF,
        include=("{order}", "48 hours"),
    ),
    FollowupCase(
        "noah_chen@example.org",
        "nudge them to complete payment for order {order}",
        WHATSAPP,
        "Hi {first}, order {order} is still waiting for payment. You can finish it from the link in your order email.",
        include=("{order}",),
    ),
    FollowupCase(
        "sjackson@example.com",
        "suggest our linen and Tencel dresses, they prefer to avoid wool",
        EMAIL,
        "Hi {first},\n\nWe thought you might like our linen and Tencel dresses: light, breathable and wool-free."
        + SIGN_OFF,
        include=("linen",),
    ),
    FollowupCase(
        "allen.yusuf@example.com",
        "recommend cotton and linen pieces instead of wool, they are sensitive to wool",
        EMAIL,
        "Hi {first},\n\nSince wool isn't for you, we picked out a few cotton and linen alternatives you might like."
        + SIGN_OFF,
        include=("cotton",),
    ),
    FollowupCase(
        "chiara_gonzalez@example.com",
        "welcome them as a new customer after their first order",
        EMAIL,
        "Hi {first},\n\nWelcome to {shop}, and thank you for your first order, {order}. We hope you love your "
        "{item}." + SIGN_OFF,
    ),
    FollowupCase(
        "ruth_novak@example.com",
        "welcome message after their first purchase",
        WHATSAPP,
        "Hi {first}, welcome to {shop}! Thanks for your first order; we hope you love your {item}.",
    ),
    FollowupCase(
        "noah_chen@example.org",
        "remind them of the $10 goodwill credit we issued after their delayed delivery",
        EMAIL,
        "Hi {first},\n\nJust a reminder that the $10 goodwill credit we issued after your delayed delivery is "
        "there for your next order." + SIGN_OFF,
        include=("$10",),
    ),
    FollowupCase(
        "zmuller@example.net",
        "invite them to early access to the new winter collection next week as a VIP",
        EMAIL,
        "Hi {first},\n\nAs one of our VIPs, you're invited to shop the new winter collection a week before "
        "everyone else. We'll send your early-access link next week." + SIGN_OFF,
        include=("winter collection",),
    ),
]

_OTHER_PERCENTAGES = ("10%", "15%", "20%", "25%", "30%", "50%")


def _followup_forbidden(purpose: str, other: m.Customer) -> list[str]:
    forbidden = [other.name]
    if "%" in purpose:
        forbidden += [pct for pct in _OTHER_PERCENTAGES if pct not in purpose]
    else:
        forbidden.append("%")
    if not re.search(r"discount|%|\bcode\b", purpose, re.IGNORECASE):
        forbidden.append("discount")
    return forbidden


async def build_crm_followup_draft(shop: Shop) -> list[tuple[dict[str, Any], Expect]]:
    cases = []
    for case in FOLLOWUP_CASES:
        customer = shop.customer(case.customer)
        _, orders = await snapshots(shop, customer)
        order = shop.order(case.order) if case.order else (orders[0] if orders else None)
        if order is not None and shop.owners[order.number].id != customer.id:
            raise BuildError(f"{case.customer}: order {order.number} is someone else's")
        first = customer.name.split()[0]
        items = (order.items or []) if order is not None else []
        fields = {
            "first": first,
            "order": order.number if order is not None else "",
            "item": items[0]["title"] if items else "order",
            "carrier": (order.carrier or "") if order is not None else "",
            "tracking": (order.tracking_number or "") if order is not None else "",
            "product": shop.card(case.product).title if case.product else "",
            "shop": shop.tenant.name,
        }
        purpose = case.purpose.format(**fields)
        if case.product:
            product = shop.product(case.product)
            sizes = [str(size) for size in product.attributes.get("sizes", [])]
            if product.stock <= 0 or any(size not in sizes for size in re.findall(r"\bEU (\d+)", purpose)):
                raise BuildError(f"{case.customer}: {purpose!r} is not true of {product.sku}")
        reference = case.reference.format(**fields)
        records = orders_text(orders)
        as_draft = CrmFollowupDraft(
            subject="Draft" if case.channel is FollowupChannel.EMAIL else None, body=reference, channel=case.channel
        )
        if problems := followup._draft_rules(case.channel, purpose, records, {o.number for o in orders})(as_draft):
            raise BuildError(f"follow-up to {case.customer}: the reference breaks the draft rules: {problems}")
        cases.append(
            (
                {"customer": case.customer, "purpose": purpose, "channel": case.channel.value},
                Expect(
                    must_include=[first, *(phrase.format(**fields) for phrase in case.include)],
                    must_not_include=_followup_forbidden(purpose, shop.other_customer(customer)),
                    reference=reference,
                ),
            )
        )
    return cases


# --- seo_product_copy --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeoCase:
    sku: str
    kind: str
    """A word of the product type the copy must name, e.g. `tee`."""
    keywords: tuple[str, ...]
    reference: str
    """A good meta description: at most 155 characters, the kind and every keyword, no claim beyond the data."""


SEO_CASES: list[SeoCase] = [
    SeoCase(
        "SKU-1001",
        "tee",
        (),
        "Slub Cotton Crew Tee in 100% cotton slub jersey with a lived-in texture and a regular fit. Terracotta, "
        "White or Black, sizes S–XXL.",
    ),
    SeoCase(
        "SKU-1009",
        "tee",
        ("recycled cotton tee",),
        "Recycled cotton tee with a narrow V-neck, in 60% recycled and 40% organic cotton jersey. Regular fit in "
        "Rust, Heather Grey, Navy or Black.",
    ),
    SeoCase(
        "SKU-1005",
        "tee",
        ("merino wool long sleeve tee",),
        "Merino wool long sleeve tee in 150 gsm jersey, temperature-regulating and naturally odour-resistant, "
        "with ribbed cuffs. Sizes XS–XXL.",
    ),
    SeoCase(
        "SKU-1014",
        "tank",
        (),
        "Relaxed muscle tank in soft, breathable organic cotton jersey, GOTS-certified, with deep armholes. In "
        "Oatmeal, Navy, Ecru or Sky Blue.",
    ),
    SeoCase(
        "SKU-1043",
        "hoodie",
        ("organic cotton hoodie",),
        "Organic cotton hoodie in midweight 330 gsm French terry, with a lined hood and a kangaroo pocket. Regular "
        "fit in Oatmeal, Cream or Black.",
    ),
    SeoCase(
        "SKU-1038",
        "hoodie",
        (),
        "Oversized hoodie in 400 gsm brushed fleece with dropped shoulders, a double-layer hood and a kangaroo "
        "pocket. Cream, Heather Grey, Oatmeal or Rust.",
    ),
    SeoCase(
        "SKU-1042",
        "fleece",
        ("recycled fleece",),
        "Recycled fleece quarter-zip in 100% recycled polyester polar fleece: lightweight, quick-drying and warm, "
        "with a chest pocket. Sage, Cream or Rust.",
    ),
    SeoCase(
        "SKU-1046",
        "sweatshirt",
        ("charcoal crewneck sweatshirt",),
        "Charcoal crewneck sweatshirt in dense 360 gsm cotton loopback jersey, made to age well. Ribbed cuffs and "
        "hem, regular fit, sizes XS–XXL.",
    ),
    SeoCase(
        "SKU-1064",
        "jean",
        ("selvedge slim jeans",),
        "Selvedge slim jeans in 13.5 oz 100% cotton selvedge denim, mid-rise and tapered to the ankle. Mid Wash, "
        "waist sizes 29–34, 32-inch inseam.",
    ),
    SeoCase(
        "SKU-1070",
        "trouser",
        (),
        "Relaxed drawstring trouser in 100% European linen that gets softer with every wash. Khaki, Stone or "
        "Olive, waist sizes 26–31.",
    ),
    SeoCase(
        "SKU-1068",
        "trouser",
        ("corduroy trousers",),
        "Corduroy trousers with single front pleats and a wide, straight leg, cut from 100% cotton 8-wale "
        "corduroy. Navy, Stone or Charcoal.",
    ),
    SeoCase(
        "SKU-1069",
        "pant",
        (),
        "Relaxed cargo pant in soft, durable organic cotton twill with bellowed side pockets and an adjustable "
        "hem. Ecru, waist sizes 27–34.",
    ),
    SeoCase(
        "SKU-1100",
        "dress",
        ("silk wrap dress",),
        "Silk wrap dress in sand-washed mulberry silk with a matte, fluid hand, short sleeves and a self-tie "
        "waist. Midi length in Burgundy or Lavender.",
    ),
    SeoCase(
        "SKU-1093",
        "dress",
        (),
        "Midi wrap dress in 100% European linen with short sleeves and a self-tie waist, softer with every wash. "
        "Burgundy, Ecru, Mustard or Black.",
    ),
    SeoCase(
        "SKU-1095",
        "dress",
        ("navy midi dress",),
        "Navy midi dress in fluid 100% Tencel lyocell, with a fitted bodice, short sleeves and a softly gathered "
        "skirt. Sizes XS–L.",
    ),
    SeoCase(
        "SKU-1097",
        "dress",
        (),
        "Relaxed knee-length T-shirt dress in soft, breathable organic cotton jersey, GOTS-certified and cut "
        "like a long tee. In Sage.",
    ),
    SeoCase(
        "SKU-1122",
        "jacket",
        ("recycled rain jacket",),
        "Recycled rain jacket in nylon ripstop with a PFC-free water-repellent finish: light, packable and "
        "windproof, with taped seams and a hood.",
    ),
    SeoCase(
        "SKU-1124",
        "coat",
        (),
        "Single-breasted overcoat in 70% recycled wool melton, warm and dense, falling below the knee with notch "
        "lapels. Stone, Navy, Khaki or Olive.",
    ),
    SeoCase(
        "SKU-1132",
        "coat",
        ("camel trench coat",),
        "Camel trench coat in tightly woven cotton gabardine with a water-repellent finish, double-breasted with "
        "a storm flap and a belted waist.",
    ),
    SeoCase(
        "SKU-1121",
        "jacket",
        (),
        "Waxed cotton field jacket with a paraffin wax finish that is water-resistant, four front pockets and a "
        "stowaway hood. Charcoal, Tan or Khaki.",
    ),
    SeoCase(
        "SKU-1146",
        "boot",
        (),
        "Ankle-height Chelsea boot in full-grain leather with elastic side gussets, a leather lining and a "
        "natural rubber sole. Chocolate or Cognac.",
    ),
    SeoCase(
        "SKU-1152",
        "runner",
        ("vegan sneakers",),
        "Vegan sneakers with a recycled polyester knit upper and a sugarcane-based EVA sole: flexible and "
        "breathable. The Everyday Runner in Black.",
    ),
    SeoCase(
        "SKU-1144",
        "sneaker",
        (),
        "Vulcanised low-top sneaker with an organic cotton canvas upper, a natural rubber sole and a cushioned "
        "insole. Vegan, in Navy, Ecru or Black.",
    ),
    SeoCase(
        "SKU-1162",
        "loafer",
        ("suede loafers",),
        "Suede loafers with a moccasin toe and a stacked heel, a leather lining and a crepe rubber sole. Soft and "
        "lightweight, in Tan, Stone or Navy.",
    ),
    SeoCase(
        "SKU-1173",
        "bag",
        ("leather crossbody bag",),
        "Leather crossbody bag in vegetable-tanned full-grain leather that develops a rich patina, with a "
        "magnetic flap and an adjustable strap.",
    ),
    SeoCase(
        "SKU-1176",
        "daypack",
        (),
        "20-litre daypack in recycled nylon with a water-repellent finish, a padded laptop sleeve and two side "
        "pockets. Light and easy to carry.",
    ),
    SeoCase(
        "SKU-1178",
        "weekender",
        ("waxed canvas weekender bag",),
        "Waxed canvas weekender bag, 40 litres, with twin carry handles, a detachable shoulder strap and "
        "vegetable-tanned leather trims.",
    ),
    SeoCase(
        "SKU-1187",
        "tote",
        (),
        "Open market tote in sturdy, washable 100% organic cotton canvas, with long shoulder handles and an inner "
        "zip pocket. In Navy.",
    ),
    SeoCase(
        "SKU-1191",
        "beanie",
        ("lambswool beanie",),
        "Lambswool beanie with a deep turn-up cuff: close-fitting, warm, light and soft. 100% lambswool, in Cream "
        "or Camel.",
    ),
    SeoCase(
        "SKU-1195",
        "belt",
        (),
        "3.5 cm belt in full-grain bridle leather with a solid brass buckle, stiff at first and softening with "
        "wear. Tan or Cognac, sizes S–XL.",
    ),
    SeoCase(
        "SKU-1203",
        "socks",
        ("organic cotton socks",),
        "Organic cotton socks: three pairs of mid-calf crew socks, cushioned underfoot with a reinforced heel and "
        "toe. Cream, Navy and Camel.",
    ),
    SeoCase(
        "SKU-1194",
        "scarf",
        (),
        "Generous merino wool scarf, 180 by 30 cm, in a warm, soft, non-itchy rib knit with fringed ends. Forest, "
        "Navy, Oatmeal or Heather Grey.",
    ),
    SeoCase(
        "SKU-1217",
        "mug",
        ("stoneware mug",),
        "Stoneware mug, 350 ml, with a generous handle, thrown and glazed in small batches. Dishwasher and "
        "microwave safe. In Stone.",
    ),
    SeoCase(
        "SKU-1224",
        "candle",
        (),
        "Scented soy wax candle with notes of cedar, fig and sea salt, a cotton wick and about 45 hours of burn "
        "time, in a recycled glass vessel.",
    ),
    SeoCase(
        "SKU-1226",
        "throw",
        (),
        "Linen throw blanket, 130 by 180 cm, in soft, absorbent stonewashed European linen with fringed ends. "
        "Oatmeal, Ecru or Charcoal.",
    ),
    SeoCase(
        "SKU-1231",
        "cushion",
        ("linen cushion cover",),
        "Linen cushion cover, 50 by 50 cm, in soft stonewashed European linen with a hidden zip; insert not "
        "included. Ecru, Stone, Terracotta or Charcoal.",
    ),
]

UNSUPPORTED_CLAIMS: dict[str, tuple[str, ...]] = {
    "T-shirts": ("organic", "waterproof", "cashmere"),
    "Hoodies & Sweatshirts": ("organic", "waterproof", "cashmere"),
    "Jeans & Trousers": ("stretch", "organic", "waterproof"),
    "Dresses": ("organic", "silk", "waterproof"),
    "Jackets & Coats": ("waterproof", "cashmere", "down-filled"),
    "Footwear": ("waterproof", "vegan", "handmade"),
    "Bags": ("waterproof", "vegan", "handmade"),
    "Accessories": ("cashmere", "organic", "handmade"),
    "Home & Living": ("handmade", "organic", "cashmere"),
}
"""Claims copy for a category is tempted to make; a case forbids the first two its product's record lacks."""
_SEO_WORD = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")


def _claims_beyond(text: str, record: str) -> list[str]:
    known = {part for token in _SEO_WORD.findall(record) for part in (token, *re.split(r"['-]", token))}
    said = {part for token in _SEO_WORD.findall(text.lower()) for part in (token, *re.split(r"['-]", token))}
    return sorted(word for word in said & CLAIM_WORDS if word not in known)


def build_seo_product_copy(shop: Shop) -> list[tuple[dict[str, Any], Expect]]:
    cases = []
    for case in SEO_CASES:
        product = shop.product(case.sku)
        record = product_record(product)
        where = f"seo {case.sku}"
        if case.kind not in record:
            raise BuildError(f"{where}: {case.kind!r} is not in the product's record")
        ref = case.reference.lower()
        if not 50 <= len(case.reference) <= 155:
            raise BuildError(f"{where}: the reference is {len(case.reference)} characters, not 50 to 155")
        for word in (case.kind, *case.keywords):
            if word.lower() not in ref:
                raise BuildError(f"{where}: the reference lacks {word!r}")
        for text in (case.reference, *case.keywords):
            if invented := _claims_beyond(text, record):
                raise BuildError(f"{where}: {text!r} claims {invented}, which the product data does not state")
        if "$" in case.reference:
            raise BuildError(f"{where}: a price does not belong in page copy")
        forbidden = [c for c in UNSUPPORTED_CLAIMS[product.category] if c not in record and c not in ref][:2]
        cases.append(
            (
                {"sku": case.sku, "target_keywords": list(case.keywords)},
                Expect(
                    must_include=[case.kind, *case.keywords],
                    must_not_include=[*forbidden, _money(product.price).removesuffix(".00")],
                    reference=case.reference,
                ),
            )
        )
    return cases


# --- photo_brief -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PhotoCase:
    sku: str
    request: str
    include: tuple[str, ...]
    """Scene and background words from the request the brief must keep."""
    count: int | None = None
    """Images the request asks for, where it says."""
    aspect: str | None = None
    """The ratio the request writes or names (`square`, `story`, `banner`), as an `AspectRatio` value."""


PHOTO_CASES: list[PhotoCase] = [
    PhotoCase(
        "SKU-1217", "3 lifestyle shots on a marble kitchen counter, 4:5", ("marble", "kitchen counter"), 3, "4:5"
    ),
    PhotoCase("SKU-1001", "white background, 2 photos for the marketplace", ("white",), 2),
    PhotoCase(
        "SKU-1224", "four images on a weathered oak table beside a steaming mug, square", ("oak table", "mug"), 4, "1:1"
    ),
    PhotoCase("SKU-1149", "a couple of shots on a sandy beach at sunset, 16:9", ("beach", "sunset"), 2, "16:9"),
    PhotoCase(
        "SKU-1093",
        "5 photos hanging on a wooden clothes rail in a sunlit loft, 4x5",
        ("clothes rail", "loft"),
        5,
        "4:5",
    ),
    PhotoCase("SKU-1122", "one hero banner image on a mossy forest floor, 16:9", ("mossy forest",), 1, "16:9"),
    PhotoCase("SKU-1152", "6 instagram story shots on a city street at night", ("city street", "night"), 6, "9:16"),
    PhotoCase(
        "SKU-1226",
        "two flat lay photos on crisp white linen with dried flowers, 1:1",
        ("flat lay", "dried flowers"),
        2,
        "1:1",
    ),
    PhotoCase("SKU-1064", "three images in portrait 4 by 5 against a terracotta wall", ("terracotta wall",), 3, "4:5"),
    PhotoCase("SKU-1173", "single packshot on a light grey background", ("light grey",), 1),
    PhotoCase(
        "SKU-1161", "2 shots on a rustic wooden bench in an autumn park, 3:4", ("wooden bench", "autumn park"), 2, "3:4"
    ),
    PhotoCase(
        "SKU-1124",
        "8 variations on a concrete plinth with dramatic shadows, 9:16, no people",
        ("concrete plinth", "shadows"),
        8,
        "9:16",
    ),
    PhotoCase("SKU-1238", "1 lifestyle photo draped over a cosy linen sofa, 4:5", ("sofa",), 1, "4:5"),
    PhotoCase(
        "SKU-1097",
        "7 pictures folded on a linen bedspread in a bright bedroom, 4:5",
        ("bedspread", "bedroom"),
        7,
        "4:5",
    ),
    PhotoCase(
        "SKU-1187",
        "4 shots at a farmers market stall with fresh vegetables, 1:1",
        ("farmers market", "vegetables"),
        4,
        "1:1",
    ),
    PhotoCase("SKU-1191", "3 images on a snowy wooden fence in soft winter light, 4:5", ("snowy", "fence"), 3, "4:5"),
    PhotoCase("SKU-1043", "5 studio shots on a sage green backdrop, 3:4", ("sage green",), 5, "3:4"),
    PhotoCase(
        "SKU-1100", "2 editorial images in a sunlit parisian courtyard for a website banner", ("courtyard",), 2, "16:9"
    ),
    PhotoCase("SKU-1176", "6 shots on a mountain trail at sunrise, 16x9", ("mountain trail", "sunrise"), 6, "16:9"),
    PhotoCase("SKU-1195", "three close-up photos on dark walnut wood, square format", ("walnut",), 3, "1:1"),
    PhotoCase(
        "SKU-1218", "2 photos on a bathroom shelf next to folded towels, 4:5", ("bathroom shelf", "towels"), 2, "4:5"
    ),
    PhotoCase("SKU-1132", "4 images on a rainy london street, 9:16 for reels", ("rainy", "street"), 4, "9:16"),
    PhotoCase("SKU-1203", "plain white background packshots, 3 images, 1:1", ("white",), 3, "1:1"),
    PhotoCase(
        "SKU-1146", "5 photos on a worn leather armchair by a fireplace, 4:5", ("armchair", "fireplace"), 5, "4:5"
    ),
    PhotoCase("SKU-1231", "2 images on a rattan garden chair on a sunny terrace, 3:4", ("rattan", "terrace"), 2, "3:4"),
    PhotoCase(
        "SKU-1070",
        "4 shots against a whitewashed stone wall in a greek village, 4:5",
        ("stone wall", "village"),
        4,
        "4:5",
    ),
    PhotoCase("SKU-1217", "one image on a black background, 1:1", ("black",), 1, "1:1"),
    PhotoCase(
        "SKU-1042", "6 variations at a misty lakeside campsite with a tent, 16:9", ("lakeside", "tent"), 6, "16:9"
    ),
    PhotoCase("SKU-1194", "two photos against a soft pink backdrop, 4:5", ("pink",), 2, "4:5"),
    PhotoCase(
        "SKU-1152", "a few photos on an athletics track at dawn, 9:16", ("athletics track", "dawn"), None, "9:16"
    ),
    PhotoCase(
        "SKU-1005", "3 images on a beige backdrop with a sprig of eucalyptus, 4 x 5", ("beige", "eucalyptus"), 3, "4:5"
    ),
    PhotoCase("SKU-1093", "8 photos in a sunflower field at golden hour", ("sunflower field", "golden hour"), 8),
    PhotoCase("SKU-1149", "half a dozen shots by a turquoise swimming pool, square", ("swimming pool",), 6, "1:1"),
    PhotoCase(
        "SKU-1161", "2 photos on a cobblestone street in the rain, landscape 16:9", ("cobblestone", "rain"), 2, "16:9"
    ),
]

CONTRADICTING_RATIO = {
    AspectRatio.SQUARE: "16:9",
    AspectRatio.PORTRAIT_4_5: "16:9",
    AspectRatio.PORTRAIT_3_4: "16:9",
    AspectRatio.LANDSCAPE_16_9: "9:16",
    AspectRatio.STORY_9_16: "16:9",
}
"""For each ratio, another a brief for it must not mention."""


def build_photo_brief(shop: Shop) -> list[tuple[dict[str, Any], Expect]]:
    cases = []
    for case in PHOTO_CASES:
        shop.product(case.sku)
        for word in case.include:
            if word.lower() not in case.request.lower():
                raise BuildError(f"photo {case.request!r}: {word!r} is not the operator's word")
        fields: dict[str, Any] = {}
        if case.count is not None:
            fields["count"] = case.count
        aspect = AspectRatio(case.aspect) if case.aspect is not None else None
        if aspect is not None:
            fields["aspect"] = aspect.value
        cases.append(
            (
                {"sku": case.sku, "request": case.request},
                Expect(
                    must_include=list(case.include),
                    must_not_include=[CONTRADICTING_RATIO[aspect]] if aspect else [],
                    fields=fields,
                ),
            )
        )
    return cases


# --- writing -----------------------------------------------------------------------------------------


def _line(case_id: str, input_: dict[str, Any], expect: Expect) -> str:
    case = EvalCase(id=case_id, input=input_, expect=expect)
    row = {
        "id": case.id,
        "fixture": case.fixture,
        "input": case.input,
        "expect": case.expect.model_dump(mode="json", exclude_defaults=True),
    }
    return json.dumps(row, ensure_ascii=False)


def render(use_case: str, cases: list[tuple[dict[str, Any], Expect]]) -> str:
    """Render one use case's golden set as JSONL, ids numbered in order."""
    if len(cases) < MIN_CASES:
        raise BuildError(f"{use_case}: {len(cases)} cases, the minimum is {MIN_CASES}")
    lines = [_line(f"{PREFIXES[use_case]}-{n:03d}", input_, expect) for n, (input_, expect) in enumerate(cases, 1)]
    text = "\n".join(lines) + "\n"
    if found := _ISO_DATE.search(text):
        raise BuildError(f"{use_case}: {found[0]!r} is an absolute date, which moves with every seeding")
    return text


async def build_all(shop: Shop) -> dict[str, list[tuple[dict[str, Any], Expect]]]:
    built = {
        "customer_reply": await build_customer_reply(shop),
        "intent_route": build_intent_route(),
        "crm_customer_summary": await build_crm_customer_summary(shop),
        "crm_followup_draft": await build_crm_followup_draft(shop),
        "next_best_action": await build_next_best_action(shop),
        "seo_product_copy": build_seo_product_copy(shop),
        "photo_brief": build_photo_brief(shop),
    }
    assert set(built) == set(USE_CASES)
    return built


# --- --check: where the deterministic paths disagree -------------------------------------------------


@dataclass
class Disagreements:
    lines: list[str] = field(default_factory=list)

    def add(self, case_id: str, text: str, problem: str) -> None:
        self.lines.append(f"{case_id}  {text!r}\n    {problem}")


def _tool_skus(outputs: list[BaseModel]) -> list[str]:
    skus = []
    for out in outputs:
        if isinstance(out, eng.CheckStockResult | eng.ProductDetail):
            skus.append(out.sku)
        elif isinstance(out, eng.RecommendProductsResult):
            skus.append(out.source_sku)
    return skus


async def check_customer_reply(shop: Shop, cases: list[tuple[dict[str, Any], Expect]], report: Disagreements) -> None:
    bot = DeterministicEngine()
    voice = ShopVoice(name=shop.tenant.name)
    for n, ((input_, expect), spec) in enumerate(zip(cases, REPLY_CASES, strict=True), 1):
        case_id, message = f"reply-{n:03d}", input_["message"]
        turn = await bot.answer(shop.shopper(), message, pending=Pending(), voice=voice)
        if turn.intent != expect.intent:
            report.add(case_id, message, f"engine intent {turn.intent.value}, expected {expect.intent}")
        if turn.tools != expect.tools:
            report.add(case_id, message, f"engine tools {turn.tools}, expected {expect.tools}")
        if spec.sku and (skus := _tool_skus(turn.outputs)) and spec.sku not in skus and expect.tools != [SEARCH]:
            report.add(case_id, message, f"engine looked up {skus}, expected {spec.sku}")
        for out in turn.outputs:
            if isinstance(out, eng.PolicyAnswerResult) and expect.reference_contexts:
                quoted = [p.text for p in out.passages]
                if expect.reference_contexts[0] not in quoted:
                    slugs = [p.slug for p in out.passages] or "nothing"
                    report.add(case_id, message, f"policy_answer returned {slugs}, expected {spec.policy}")
        if turn.tools == expect.tools:
            missing = [f for f in expect.must_include if f.casefold() not in turn.reply.casefold()]
            wrong = [f for f in expect.must_not_include if f.casefold() in turn.reply.casefold()]
            if missing and spec.policy is None:
                report.add(case_id, message, f"engine reply lacks {missing}: {turn.reply[:160]!r}")
            if wrong:
                report.add(case_id, message, f"engine reply says {wrong}: {turn.reply[:160]!r}")


def check_intent_route(cases: list[tuple[dict[str, Any], Expect]], report: Disagreements) -> None:
    router = IntentRouter.default()
    for n, (input_, expect) in enumerate(cases, 1):
        routed = router.route(input_["message"])
        if routed.intent != expect.intent:
            report.add(
                f"route-{n:03d}",
                input_["message"],
                f"router says {routed.intent.value} ({routed.confidence:.2f}), expected {expect.intent}",
            )


def check_photo_brief(cases: list[tuple[dict[str, Any], Expect]], report: Disagreements) -> None:
    for n, (input_, expect) in enumerate(cases, 1):
        case_id, request = f"photo-{n:03d}", input_["request"]
        asked = read_request(request)
        brief = asked.brief()
        if "count" in expect.fields and asked.count != expect.fields["count"]:
            report.add(case_id, request, f"parser count {asked.count}, expected {expect.fields['count']}")
        if "aspect" in expect.fields and brief.aspect.value != expect.fields["aspect"]:
            said = asked.aspect.value if asked.aspect else None
            report.add(
                case_id,
                request,
                f"parser aspect {said} (brief {brief.aspect.value}), expected {expect.fields['aspect']}",
            )
        described = f"{brief.scene}\n{brief.background}".casefold()
        if missing := [w for w in expect.must_include if w.casefold() not in described]:
            report.add(
                case_id, request, f"brief scene/background lacks {missing}: {brief.scene!r} / {brief.background!r}"
            )


# --- entry point -------------------------------------------------------------------------------------


@dataclass
class Built:
    texts: dict[str, str]
    """Use case → the JSONL text of its golden set."""
    counts: dict[str, int]
    disagreements: list[str]
    """Filled by `--check` only."""


async def build(database_url: str, *, check: bool) -> Built:
    """Read the demo shop and render every golden set; with `check`, run the deterministic paths against them."""
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            shop = await load_shop(session)
            built = await build_all(shop)
            report = Disagreements()
            if check:
                await check_customer_reply(shop, built["customer_reply"], report)
                check_intent_route(built["intent_route"], report)
                check_photo_brief(built["photo_brief"], report)
            await session.rollback()  # nothing here writes, and nothing may
    finally:
        await engine.dispose()
    return Built(
        texts={use_case: render(use_case, cases) for use_case, cases in built.items()},
        counts={use_case: len(cases) for use_case, cases in built.items()},
        disagreements=report.lines,
    )


def main(argv: Sequence[str] | None = None) -> None:
    assert __doc__ is not None  # the module docstring (stripped only under -OO)
    parser = argparse.ArgumentParser(prog="python -m evals.build_golden", description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="The HUB_DATA_DIR `hub seed demo` wrote to.")
    parser.add_argument("--out", type=Path, default=GOLDEN_DIR, help="Where to write the JSONL files.")
    parser.add_argument("--check", action="store_true", help="Also list where the deterministic paths disagree.")
    args = parser.parse_args(argv)
    database = args.data_dir / "hub.db"
    if not database.is_file():
        parser.error(f"{database} does not exist: run `hub seed demo` with HUB_DATA_DIR={args.data_dir}")
    try:
        built = asyncio.run(build(f"sqlite+aiosqlite:///{database.resolve()}", check=args.check))
    except BuildError as exc:
        sys.exit(f"build_golden: {exc}")
    args.out.mkdir(parents=True, exist_ok=True)
    for use_case, text in built.texts.items():
        (args.out / f"{use_case}.jsonl").write_text(text, encoding="utf-8")
        print(f"{use_case}: {built.counts[use_case]} cases")
    if args.check:
        print(f"{len(built.disagreements)} disagreement(s) between the deterministic paths and the expectations:")
        print("\n".join(built.disagreements))


if __name__ == "__main__":
    main()
