"""Customer-facing tools answer from the tenant's own rows, on SQLite and on Postgres, and never leak across tenants."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import models as m
from hub.seed.demo import DemoCredentials
from hub.tenancy.repository import TenantData
from tests.conftest import Shop
from tools.context import Audience, PermissionDenied, ToolContext, ToolError
from tools.engagement import (
    ENGAGEMENT_TOOLS,
    CheckStockInput,
    GetProductInput,
    HandoffInput,
    HandoffReason,
    OrderStatusInput,
    PolicyAnswerInput,
    ProductCard,
    RecommendationKind,
    RecommendProductsInput,
    SearchProductsInput,
    StockLevel,
    check_stock,
    get_product,
    handoff_to_human,
    order_status,
    policy_answer,
    recommend_products,
    search_products,
)
from tools.registry import ToolSpec, run_tool, tools_for


def customer_ctx(
    session: AsyncSession, tenant_id: uuid.UUID | str, customer_id: uuid.UUID | None = None
) -> ToolContext:
    return ToolContext(
        session=session,
        tenant_id=uuid.UUID(str(tenant_id)),
        audience=Audience.CUSTOMER,
        channel=m.Channel.WEB,
        customer_id=customer_id,
    )


def data(ctx: ToolContext) -> TenantData:
    return ctx.data


# --- search -------------------------------------------------------------------------------------------


async def test_search_ignores_word_order_and_plurals(session: AsyncSession, demo: DemoCredentials) -> None:
    ctx = customer_ctx(session, demo.tenant_id)
    plural = await search_products(ctx, SearchProductsInput(query="linen dresses", limit=10))
    reordered = await search_products(ctx, SearchProductsInput(query="Dress LINEN", limit=10))
    assert plural.total > 0
    assert [p.sku for p in plural.products] == [p.sku for p in reordered.products]
    for card in plural.products:
        assert card.category == "Dresses" and "linen" in card.title.lower()
    tees = await search_products(ctx, SearchProductsInput(query="t-shirts"))
    assert tees.total > 0 and {p.category for p in tees.products} == {"T-shirts"}


async def test_search_returns_small_cards_with_nothing_internal(session: AsyncSession, demo: DemoCredentials) -> None:
    ctx = customer_ctx(session, demo.tenant_id)
    result = await search_products(ctx, SearchProductsInput(query="hoodie"))
    assert 0 < len(result.products) <= 5
    card = result.products[0].model_dump()
    assert set(card) == {
        "sku",
        "title",
        "category",
        "price",
        "currency",
        "stock",
        "in_stock",
        "stock_level",
        "sizes",
        "colours",
        "image_path",
    }
    assert card["image_path"].endswith(f"{card['sku']}.png")


SEARCH_FILTERS = {
    "category": ({"category": "footwear"}, lambda p: p.category == "Footwear"),
    "partial category": ({"category": "jeans"}, lambda p: p.category == "Jeans & Trousers"),
    "min price": ({"min_price": Decimal("150")}, lambda p: p.price >= 150),
    "max price": ({"max_price": Decimal("40")}, lambda p: p.price <= 40),
    "size": ({"size": "xxl"}, lambda p: "XXL" in p.sizes),
    "shoe size": ({"size": "42"}, lambda p: "42" in p.sizes),
    "colour family": ({"colour": "grey"}, lambda p: any("Grey" in c for c in p.colours)),
    "colour": ({"colour": "Navy"}, lambda p: "Navy" in p.colours),
    "in stock": ({"in_stock": True}, lambda p: p.in_stock and p.stock > 0),
}


async def test_each_search_filter_narrows_the_catalog(session: AsyncSession, demo: DemoCredentials) -> None:
    ctx = customer_ctx(session, demo.tenant_id)
    everything = await search_products(ctx, SearchProductsInput(limit=10))
    failures = {}
    for name, (filters, holds) in SEARCH_FILTERS.items():
        filtered = await search_products(ctx, SearchProductsInput(limit=10, **filters))
        if not (0 < filtered.total < everything.total and filtered.products):
            failures[name] = f"{filtered.total} of {everything.total} matched"
        elif not all(holds(p) for p in filtered.products):
            failures[name] = [p.sku for p in filtered.products if not holds(p)]
    assert failures == {}


async def test_search_combines_words_and_filters(session: AsyncSession, demo: DemoCredentials) -> None:
    ctx = customer_ctx(session, demo.tenant_id)
    result = await search_products(
        ctx, SearchProductsInput(query="sneakers", colour="white", size="42", max_price=Decimal("200"), in_stock=True)
    )
    assert result.products
    for card in result.products:
        assert card.category == "Footwear" and "White" in card.colours and "42" in card.sizes
        assert card.price <= 200 and card.in_stock


async def test_search_for_a_sku_finds_that_product(session: AsyncSession, demo: DemoCredentials) -> None:
    ctx = customer_ctx(session, demo.tenant_id)
    result = await search_products(ctx, SearchProductsInput(query=f" {demo.sample_sku.lower()} "))
    assert [p.sku for p in result.products] == [demo.sample_sku] and result.total == 1


async def test_search_drops_words_no_product_mentions(session: AsyncSession, demo: DemoCredentials) -> None:
    ctx = customer_ctx(session, demo.tenant_id)
    result = await search_products(ctx, SearchProductsInput(query="linen dress for my sister"))
    assert result.ignored_words == ["sister"]
    assert result.products and all(p.category == "Dresses" for p in result.products)
    nothing = await search_products(ctx, SearchProductsInput(query="snowboard"))
    assert nothing.products == [] and nothing.total == 0


async def test_search_only_sees_its_own_tenant(session: AsyncSession, shops: tuple[Shop, Shop]) -> None:
    alpha, bravo = shops
    a = await search_products(customer_ctx(session, alpha.tenant_id), SearchProductsInput(query="tee"))
    b = await search_products(customer_ctx(session, bravo.tenant_id), SearchProductsInput(query="tees"))
    assert [(p.sku, p.title, p.price) for p in a.products] == [("SKU-1", "alpha tee", Decimal("10.00"))]
    assert [(p.sku, p.title, p.price) for p in b.products] == [("SKU-1", "bravo tee", Decimal("99.00"))]


# --- products and stock -------------------------------------------------------------------------------


async def test_unknown_sku_error_names_it(session: AsyncSession, demo: DemoCredentials) -> None:
    ctx = customer_ctx(session, demo.tenant_id)
    for call in (
        get_product(ctx, GetProductInput(sku="SKU-0000")),
        check_stock(ctx, CheckStockInput(sku="SKU-0000")),
        recommend_products(ctx, RecommendProductsInput(sku="SKU-0000")),
    ):
        with pytest.raises(ToolError, match="Unknown SKU 'SKU-0000'"):
            await call


async def test_get_product_returns_catalog_details(session: AsyncSession, demo: DemoCredentials) -> None:
    ctx = customer_ctx(session, demo.tenant_id)
    product = await get_product(ctx, GetProductInput(sku=demo.sample_sku.lower()))
    stored = await data(ctx).products.by_sku(demo.sample_sku)
    assert product.sku == stored.sku and product.price == stored.price and product.stock == stored.stock
    assert product.description == stored.description
    assert product.material == stored.attributes["material"] and product.care == stored.attributes["care"]
    assert product.details["product_type"] == stored.attributes["product_type"]


async def test_stock_says_out_low_or_in_stock(session: AsyncSession, demo: DemoCredentials) -> None:
    ctx = customer_ctx(session, demo.tenant_id)
    products = data(ctx).products
    sold_out = (await products.list(m.Product.stock == 0, order_by=[m.Product.sku], limit=1))[0]
    low = (await products.list(m.Product.stock.between(1, 5), order_by=[m.Product.sku], limit=1))[0]
    plenty = (await products.list(m.Product.stock > 20, order_by=[m.Product.sku], limit=1))[0]

    out = await check_stock(ctx, CheckStockInput(sku=sold_out.sku))
    assert (out.level, out.quantity, out.can_order) == (StockLevel.OUT, 0, False)
    few = await check_stock(ctx, CheckStockInput(sku=low.sku, size=low.attributes["sizes"][0]))
    assert (few.level, few.quantity, few.can_order, few.variant_offered) == (StockLevel.LOW, low.stock, True, True)
    many = await check_stock(ctx, CheckStockInput(sku=plenty.sku, colour=plenty.attributes["colours"][0].lower()))
    assert (many.level, many.quantity, many.can_order) == (StockLevel.IN_STOCK, plenty.stock, True)


async def test_stock_for_a_size_the_product_lacks_is_out(session: AsyncSession, demo: DemoCredentials) -> None:
    ctx = customer_ctx(session, demo.tenant_id)
    plenty = (await data(ctx).products.list(m.Product.stock > 20, order_by=[m.Product.sku], limit=1))[0]
    result = await check_stock(ctx, CheckStockInput(sku=plenty.sku, size="XXXXL"))
    assert not result.variant_offered and result.level is StockLevel.OUT and not result.can_order
    assert "XXXXL" in result.note and plenty.attributes["sizes"][0] in result.note


# --- orders -------------------------------------------------------------------------------------------


async def _customer_of(ctx: ToolContext, order_number: str) -> tuple[m.Order, m.Customer]:
    order = await data(ctx).orders.by_number(order_number)
    return order, await data(ctx).customers.get(order.customer_id)


async def test_order_status_with_the_email_on_the_order(session: AsyncSession, demo: DemoCredentials) -> None:
    ctx = customer_ctx(session, demo.tenant_id)
    order, _ = await _customer_of(ctx, demo.sample_order_id)
    result = await order_status(
        ctx,
        OrderStatusInput(
            order_number=f"#{demo.sample_order_id.lower()}", email_or_phone=f" {demo.sample_order_email.upper()} "
        ),
    )
    assert result.found and result.message is None
    details = result.order
    assert details.order_number == order.number and details.status == m.OrderStatus.SHIPPED
    assert (details.carrier, details.tracking_number, details.eta) == (order.carrier, order.tracking_number, order.eta)
    assert details.placed_on == order.placed_at.date() and details.total == order.total
    assert [(i.sku, i.quantity, i.unit_price) for i in details.items] == [
        (i["sku"], i["quantity"], Decimal(i["unit_price"])) for i in order.items
    ]


async def test_order_status_with_the_phone_on_the_order(session: AsyncSession, demo: DemoCredentials) -> None:
    ctx = customer_ctx(session, demo.tenant_id)
    order, customer = await _customer_of(ctx, demo.sample_order_id)
    digits = customer.phone.removeprefix("+")
    written = [customer.phone, f"00 {digits}", f"+{digits[:-7]} {digits[-7:-4]}-{digits[-4:]}"]
    if customer.phone.startswith("+1"):
        written.append(f"({digits[1:4]}) {digits[4:7]}-{digits[7:]}")
    for phone in written:
        result = await order_status(ctx, OrderStatusInput(order_number=order.number, email_or_phone=phone))
        assert result.found and result.order.order_number == order.number, phone


async def test_wrong_contact_looks_exactly_like_a_missing_order(session: AsyncSession, demo: DemoCredentials) -> None:
    ctx = customer_ctx(session, demo.tenant_id)
    order, customer = await _customer_of(ctx, demo.sample_order_id)
    other = (await data(ctx).customers.list(m.Customer.id != customer.id, m.Customer.phone.is_not(None), limit=1))[0]

    async def lookup(number: str, contact: str) -> dict:
        result = await order_status(ctx, OrderStatusInput(order_number=number, email_or_phone=contact))
        assert not result.found and result.order is None
        return result.model_dump()

    missing = await lookup("A-99999", customer.email)
    for contact in (other.email, other.phone, "jane@example.com", "+1 555 000 0000", customer.phone[-4:]):
        assert await lookup(order.number, contact) == {**missing, "order_number": order.number}


async def test_another_tenants_order_is_never_visible(session: AsyncSession, shops: tuple[Shop, Shop]) -> None:
    alpha, bravo = shops
    alpha_ctx, bravo_ctx = customer_ctx(session, alpha.tenant_id), customer_ctx(session, bravo.tenant_id)
    assert alpha.order_number == bravo.order_number

    crossed = await order_status(
        alpha_ctx, OrderStatusInput(order_number=bravo.order_number, email_or_phone="jane@bravo.example.com")
    )
    assert not crossed.found and crossed.order is None
    own = await order_status(
        alpha_ctx, OrderStatusInput(order_number=alpha.order_number, email_or_phone="jane@alpha.example.com")
    )
    theirs = await order_status(
        bravo_ctx, OrderStatusInput(order_number=bravo.order_number, email_or_phone="jane@bravo.example.com")
    )
    assert own.order.total == Decimal("10.00") and own.order.tracking_number == "1ZALPHA"
    assert theirs.order.total == Decimal("99.00") and theirs.order.tracking_number == "1ZBRAVO"


async def test_customer_cannot_fetch_another_customers_order(session: AsyncSession, demo: DemoCredentials) -> None:
    tenant = uuid.UUID(demo.tenant_id)
    order, owner = await _customer_of(customer_ctx(session, tenant), demo.sample_order_id)
    someone_else = (await TenantData(session, tenant).customers.list(m.Customer.id != owner.id, limit=1))[0]
    args = OrderStatusInput(order_number=order.number, email_or_phone=owner.email)

    as_someone_else = await order_status(customer_ctx(session, tenant, someone_else.id), args)
    anonymous_miss = await order_status(
        customer_ctx(session, tenant), OrderStatusInput(order_number=order.number, email_or_phone="x@example.com")
    )
    assert as_someone_else == anonymous_miss and not as_someone_else.found
    as_owner = await order_status(customer_ctx(session, tenant, owner.id), args)
    assert as_owner.found and as_owner.order.order_number == order.number


# --- policies -----------------------------------------------------------------------------------------

POLICY_QUESTIONS = {
    "how long do refunds take": "returns_refunds",
    "can i change my address after ordering": "cancellations_order_changes",
    "do you ship to canada": "shipping_delivery",
    "how do i unsubscribe from whatsapp": "marketing_opt_in",
    "how do i stop getting your newsletter emails": "marketing_opt_in",
    "my parcel is late, where is it?": "shipping_delivery",
    "can I pay with Klarna or PayPal?": "payment",
    "I need an invoice with my company name": "invoice",
    "how do i reset my password": "account",
    "can I talk to a real person": "contact_human",
    "the zip on my jacket broke": "returns_refunds",
    "can i swap these jeans for a bigger size": "returns_refunds",
    "which shoe size should I order": "sizing",
}


async def test_policy_answers_come_from_the_right_topic(session: AsyncSession, demo: DemoCredentials) -> None:
    ctx = customer_ctx(session, demo.tenant_id)
    wrong = {}
    for question, topic in POLICY_QUESTIONS.items():
        result = await policy_answer(ctx, PolicyAnswerInput(question=question))
        got = result.passages[0].topic if result.passages else None
        if not result.found or got != topic:
            wrong[question] = (got, topic)
    assert wrong == {}


async def test_policy_passages_quote_the_policy_exactly(session: AsyncSession, demo: DemoCredentials) -> None:
    ctx = customer_ctx(session, demo.tenant_id)
    result = await policy_answer(ctx, PolicyAnswerInput(question="how long do refunds take?", max_passages=3))
    assert result.found and 1 <= len(result.passages) <= 3
    assert result.passages[0].slug == "returns-refunds" and "5 business days" in result.passages[0].text
    docs = {d.slug: d for d in await data(ctx).policies.list()}
    for passage in result.passages:
        assert passage.text in docs[passage.slug].body and passage.title == docs[passage.slug].title
    assert [p.score for p in result.passages] == sorted((p.score for p in result.passages), reverse=True)
    assert len({p.slug for p in result.passages}) == len(result.passages)


async def test_policy_answer_admits_when_no_policy_covers_it(session: AsyncSession, demo: DemoCredentials) -> None:
    ctx = customer_ctx(session, demo.tenant_id)
    for question in ("what's the weather in Paris tomorrow", "hello there", "who won the football"):
        result = await policy_answer(ctx, PolicyAnswerInput(question=question))
        assert not result.found and result.passages == [], question


# --- recommendations ----------------------------------------------------------------------------------


async def test_recommendations_exclude_the_source_and_sold_out_items(
    session: AsyncSession, demo: DemoCredentials
) -> None:
    ctx = customer_ctx(session, demo.tenant_id)
    products = data(ctx).products
    sold_out = {p.sku for p in await products.list(m.Product.stock == 0)}
    sources = await products.list(order_by=[m.Product.sku])
    for source in sources[::12]:
        for kind in RecommendationKind:
            result = await recommend_products(ctx, RecommendProductsInput(sku=source.sku, kind=kind, limit=8))
            skus = [r.product.sku for r in result.recommendations]
            assert source.sku not in skus and not sold_out & set(skus), (source.sku, kind)
            assert len(skus) == len(set(skus)) and all(r.reason for r in result.recommendations)


async def test_similar_items_are_the_same_kind_at_a_close_price(session: AsyncSession, demo: DemoCredentials) -> None:
    ctx = customer_ctx(session, demo.tenant_id)
    jean = (await search_products(ctx, SearchProductsInput(query="selvedge jeans", in_stock=True))).products[0]
    result = await recommend_products(ctx, RecommendProductsInput(sku=jean.sku, kind=RecommendationKind.SIMILAR))
    assert result.recommendations
    for rec in result.recommendations:
        assert rec.product.category == jean.category
        assert abs(rec.product.price - jean.price) <= jean.price * Decimal("0.35")


async def test_jeans_pair_with_tees_belts_and_sneakers(session: AsyncSession, demo: DemoCredentials) -> None:
    ctx = customer_ctx(session, demo.tenant_id)
    jean = (await search_products(ctx, SearchProductsInput(query="jeans"))).products[0]
    result = await recommend_products(
        ctx, RecommendProductsInput(sku=jean.sku, kind=RecommendationKind.COMPLEMENTARY, limit=3)
    )
    types = []
    for rec in result.recommendations:
        stored = await data(ctx).products.by_sku(rec.product.sku)
        types.append(stored.attributes["product_type"])
    assert types == ["tee", "belt", "sneaker"]


# --- handoff and the registry -------------------------------------------------------------------------


async def test_handoff_returns_a_reference_for_the_customer(session: AsyncSession, demo: DemoCredentials) -> None:
    ctx = customer_ctx(session, demo.tenant_id)
    first = await handoff_to_human(
        ctx, HandoffInput(reason=HandoffReason.COMPLAINT, summary="  Parcel A-10001 arrived damaged.  ")
    )
    second = await handoff_to_human(ctx, HandoffInput(reason="customer_request", summary="Wants to talk to a person."))
    assert first.reference.startswith("HO-") and first.reference != second.reference
    assert first.summary == "Parcel A-10001 arrived damaged." and second.reason is HandoffReason.CUSTOMER_REQUEST


class _Empty(BaseModel):
    pass


async def _refund_everything(ctx: ToolContext, args: _Empty) -> _Empty:
    return _Empty()


REFUND_EVERYTHING = ToolSpec(
    name="refund_everything",
    description="Operators only.",
    input_model=_Empty,
    result_model=_Empty,
    fn=_refund_everything,
    audiences=frozenset({Audience.OPERATOR}),
    sensitive=True,
)


async def test_run_tool_refuses_an_operator_tool_to_a_customer(session: AsyncSession, shops: tuple[Shop, Shop]) -> None:
    alpha, _ = shops
    customer = customer_ctx(session, alpha.tenant_id)
    operator = ToolContext(
        session=session, tenant_id=alpha.tenant_id, audience=Audience.OPERATOR, channel=m.Channel.CONSOLE
    )
    offered = tools_for([*ENGAGEMENT_TOOLS, REFUND_EVERYTHING], Audience.CUSTOMER)
    assert REFUND_EVERYTHING not in offered and len(offered) == len(ENGAGEMENT_TOOLS)
    with pytest.raises(PermissionDenied, match="refund_everything"):
        await run_tool(REFUND_EVERYTHING, customer, {})
    assert await run_tool(REFUND_EVERYTHING, operator, {}) == _Empty()


async def test_run_tool_names_bad_arguments(session: AsyncSession, shops: tuple[Shop, Shop]) -> None:
    alpha, _ = shops
    ctx = customer_ctx(session, alpha.tenant_id)
    spec = next(s for s in ENGAGEMENT_TOOLS if s.name == "search_products")
    with pytest.raises(ToolError) as caught:
        await run_tool(spec, ctx, {"query": "tee", "max_price": "cheap", "limit": 50})
    assert "search_products" in str(caught.value)
    assert "max_price" in str(caught.value) and "limit" in str(caught.value)
    result = await run_tool(spec, ctx, {"query": "tee", "max_price": "20"})
    assert [p.sku for p in result.products] == ["SKU-1"]


def test_engagement_tools_are_read_only_and_open_to_both_audiences() -> None:
    assert [s.name for s in ENGAGEMENT_TOOLS] == [
        "search_products",
        "get_product",
        "check_stock",
        "order_status",
        "policy_answer",
        "recommend_products",
        "handoff_to_human",
    ]
    for spec in ENGAGEMENT_TOOLS:
        assert spec.audiences == {Audience.CUSTOMER, Audience.OPERATOR} and not spec.sensitive
        assert spec.description and spec.input_model.model_json_schema()["properties"]
        for name, prop in spec.input_model.model_json_schema()["properties"].items():
            assert prop.get("description") or "$ref" in prop or "allOf" in prop, f"{spec.name}.{name}"
    assert ProductCard.model_fields.keys().isdisjoint({"id", "tenant_id"})
