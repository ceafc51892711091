"""Let a shop's own systems keep HUB in sync as things change: put a product (or many), archive one, set stock, put an
order or a customer. Admin key; the tenant is the key's. Products, orders and customers are written by the same
upserts as the file imports (`upsert_products`, `import_orders`, `import_customers`), so a product sent here and the
same product in a later export are one row."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Response
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
)
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException as StarletteHTTPException

from hub.catalog import fields
from hub.catalog.importer import Outcome, upsert_products
from hub.catalog.live import archive_product, handle_for, set_stock
from hub.catalog.records import ProductRecord, Rejection, VariantRecord
from hub.catalog.vectors import request_embedding
from hub.db import models as m
from hub.http.deps import AdminKey, Resources, Session, resources
from hub.http.errors import BODY_ERRORS, KEY_ERRORS, ApiError, error_responses
from hub.http.limits import MAX_BULK_PRODUCTS, MAX_SYNC_BODY, NO_NUL
from hub.people.common import phone
from hub.people.customers import NAME_MAX, CustomerRecord, import_customers
from hub.people.orders import NUMBER_MAX, OrderRecord, import_orders
from hub.text import EMAIL

router = APIRouter(
    prefix="/v1", tags=["sync"], responses=error_responses(*KEY_ERRORS, 403), max_body_size=MAX_SYNC_BODY
)


def _bounded(max_length: int, min_length: int = 0) -> StringConstraints:
    return StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length, pattern=NO_NUL)


Name = Annotated[str, _bounded(100, 1)]
"""An option name, a tag, an address part's key."""
Short = Annotated[str, _bounded(64)]
Line = Annotated[str, _bounded(255)]
Tag = Annotated[str, _bounded(255, 1)]
Title = Annotated[str, _bounded(fields.TITLE_MAX, 1)]
Handle = Annotated[str, _bounded(fields.HANDLE_MAX, 1)]
Category = Annotated[str, _bounded(fields.CATEGORY_MAX)]
Body = Annotated[str, _bounded(100_000)]
Url = Annotated[str, _bounded(2000, 1)]
PersonName = Annotated[str, _bounded(NAME_MAX)]
Email = Annotated[str, _bounded(254, 1)]
Note = Annotated[str, _bounded(5000)]
Sku = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=fields.SKU_MAX, pattern=NO_NUL)]
SkuPath = Annotated[str, Path(min_length=1, max_length=fields.SKU_MAX, pattern=NO_NUL)]
Money = Annotated[Decimal, Field(ge=0, lt=Decimal("1e10"), max_digits=12, decimal_places=2)]
Count = Annotated[
    int, Strict(), Field(ge=-(2**31), lt=2**31, description="Units on hand; a negative count (oversold) is 0.")
]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class VariantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Sku
    price: Money
    compare_at_price: Money | None = Field(default=None, description="The price before a sale; shown when higher.")
    stock: Count = 0
    options: dict[Name, Tag] = Field(
        default_factory=dict, description='Option name → value as the shop names them: `{"Size": "M"}`.'
    )
    grams: Annotated[int, Strict(), Field(ge=0, lt=2**31)] | None = None


class ImageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    src: Url
    alt: Line = ""


class ProductIn(BaseModel):
    """A whole product: what it replaces is its stored self, variants included."""

    model_config = ConfigDict(extra="forbid")

    title: Title
    handle: Handle | None = Field(
        default=None, description="The shop's key for the product; a new product's defaults to its SKU."
    )
    description: Body = Field(default="", description="Text or HTML (tags are dropped).")
    category: Category = ""
    product_type: Line = ""
    vendor: Line = ""
    material: Line = ""
    tags: list[Tag] = Field(default_factory=list, max_length=250)
    status: Literal["active", "draft", "archived"] = "active"
    currency: Currency | None = Field(default=None, description="ISO 4217; the shop's currency when left out.")
    price: Money | None = Field(default=None, description="A product without variants: its price (required then).")
    compare_at_price: Money | None = None
    stock: Count = 0
    variants: list[VariantIn] = Field(
        default_factory=list, max_length=100, description="Its sizes, colours…; one of them has the product's SKU."
    )
    images: list[ImageIn] = Field(default_factory=list, max_length=250)


class BulkProductIn(ProductIn):
    sku: Sku


class BulkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    products: list[dict[str, Any]] = Field(
        max_length=MAX_BULK_PRODUCTS,
        description="Products as `PUT /v1/products/{sku}` takes them, each with its `sku`; each is checked on its "
        "own, so one that fails validation is reported and the others land.",
    )


class ProductResult(BaseModel):
    sku: str
    status: Outcome
    errors: list[str] = Field(default_factory=list, description="Why it was rejected, naming the field.")


class BulkOut(BaseModel):
    created: int
    updated: int
    unchanged: int
    rejected: int
    results: list[ProductResult]
    """One per product sent, in order."""


class InventoryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stock: Count
    variant_sku: Sku | None = Field(default=None, description="The variant to set; else the one with the path SKU.")


class InventoryOut(BaseModel):
    sku: str
    variant_sku: str | None
    stock: int
    product_stock: int
    """The product's stock after the change: the sum of its variants'."""


class ArchivedOut(BaseModel):
    sku: str
    status: Literal["archived"]


class OrderItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Short = ""
    title: Annotated[str, _bounded(fields.TITLE_MAX)] = ""
    quantity: Annotated[int, Strict(), Field(gt=0, lt=2**31)]
    unit_price: Money
    size: Short | None = None
    colour: Short | None = None


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    customer_name: PersonName = Field(default="", description="Names a customer the order creates.")
    phone: Short = ""
    status: m.OrderStatus
    currency: Currency | None = None
    subtotal: Money | None = Field(default=None, description="Default: the items' sum.")
    shipping: Money = Decimal("0.00")
    total: Money | None = Field(default=None, description="Default: subtotal plus shipping.")
    placed_at: datetime | None = Field(default=None, description="ISO 8601; a time without zone is UTC.")
    carrier: Short | None = None
    tracking_number: Short | None = None
    shipping_address: dict[Name, Line] = Field(default_factory=dict)
    items: list[OrderItemIn] = Field(min_length=1, max_length=500)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not EMAIL.fullmatch(value.lower()):
            raise ValueError(f"not an email: {value!r}")
        return value.lower()


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: PersonName = ""
    phone: Short = Field(default="", description="E.164, or national with `country`.")
    country: Annotated[str, StringConstraints(pattern=r"^([A-Za-z]{2})?$")] = ""
    tags: list[Tag] = Field(default_factory=list, max_length=250)
    accepts_marketing: StrictBool = False
    accepts_sms: StrictBool = False
    note: Note = Field(default="", description="Kept when the customer is created.")


class Written(BaseModel):
    status: Literal["created", "updated", "unchanged"]


_BULK_ITEM = TypeAdapter(BulkProductIn)


async def _currency(session: AsyncSession, tenant_id: uuid.UUID) -> str:
    tenant = await session.get(m.Tenant, tenant_id)
    assert tenant is not None  # the key lookup joined on an active tenant
    return str((tenant.settings or {}).get("currency") or "USD")


class _Invalid(ValueError):
    """A product whose parts do not fit together; the message names the field."""


def product_record(sku: str, body: ProductIn, handle: str, line: int) -> ProductRecord:
    """The importers' record of a product sent to the API; `line` numbers it among the products of one request."""
    record = ProductRecord(
        handle=handle,
        line=line,
        title=body.title,
        description=fields.html_text(body.description),
        category=fields.category(body.category, body.product_type),
        vendor=body.vendor,
        product_type=body.product_type,
        tags=list(dict.fromkeys(body.tags)),
        status=body.status,
        currency=body.currency,
        material=body.material,
    )
    for image in body.images:
        record.add_image(image.src, image.alt)
    if not body.variants:
        if body.price is None:
            raise _Invalid("price: required for a product without variants")
        compare_at = fields.compare_at(body.price, body.compare_at_price)
        record.variants.append(VariantRecord(line, sku, {}, body.price, compare_at, max(0, body.stock)))
        return record
    skus = [v.sku for v in body.variants]
    if sku not in skus:
        raise _Invalid(f"variants: none has the product's SKU {sku!r}")
    if len(set(skus)) != len(skus):
        raise _Invalid(f"variants: SKU {next(s for s in skus if skus.count(s) > 1)!r} appears twice")
    for variant in body.variants:
        for name in variant.options:
            if name not in record.option_names:
                record.option_names.append(name)
        record.variants.append(
            VariantRecord(
                line=line,
                sku=variant.sku,
                options=dict(variant.options),
                price=variant.price,
                compare_at_price=fields.compare_at(variant.price, variant.compare_at_price),
                stock=max(0, variant.stock),
                grams=variant.grams,
            )
        )
    return record


def _reasons(rejected: list[Rejection], line: int) -> list[str]:
    return [r.reason for r in rejected if r.line == line]


def _problems(exc: ValidationError) -> list[str]:
    return [f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors(include_url=False)]


@router.api_route("/products/bulk", methods=["GET", "PUT", "PATCH", "DELETE"], include_in_schema=False)
async def bulk_takes_post_only() -> None:
    """Answer 405 on `/v1/products/bulk` for anything but POST, before the product routes read `bulk` as a SKU
    (this route comes first here, and the sync router ahead of the catalog's)."""
    raise StarletteHTTPException(405)


@router.put(
    "/products/{sku}",
    status_code=200,
    responses={
        201: {"model": ProductResult, "description": "The product is new."},
        **error_responses(*BODY_ERRORS, (422, "A field failed validation, or a variant's SKU is another product's.")),
    },
)
async def put_product(
    sku: SkuPath,
    body: ProductIn,
    auth: AdminKey,
    session: Session,
    res: Annotated[Resources, Depends(resources)],
    response: Response,
) -> ProductResult:
    """Create or replace one product with all its variants, matched by any of its SKUs; sending the same product
    again changes nothing (`unchanged`)."""
    tenant_id = auth.caller.tenant_id
    try:
        record = product_record(sku, body, sku, 1)
    except _Invalid as exc:
        raise ApiError(422, "invalid_product", str(exc)) from None
    record.handle = await handle_for(auth.data, sku, body.handle)
    currency = await _currency(session, tenant_id)
    await session.commit()  # the upsert writes in its own transaction
    upserted = await upsert_products(res.sessions, tenant_id, [record], currency=currency)
    if upserted.outcomes[0] == "rejected":
        raise ApiError(422, "rejected", "; ".join(r.reason for r in upserted.summary.rejected))
    if upserted.outcomes[0] in ("created", "updated"):
        await request_embedding(res.jobs, tenant_id)
    if upserted.outcomes[0] == "created":
        response.status_code = 201
    return ProductResult(sku=sku, status=upserted.outcomes[0])


@router.post(
    "/products/bulk",
    responses=error_responses(*BODY_ERRORS, (422, 'The body is not `{"products": [...]}`.')),
)
async def put_products(
    body: BulkIn, auth: AdminKey, session: Session, res: Annotated[Resources, Depends(resources)]
) -> BulkOut:
    """Create or replace many products at once, as `PUT /v1/products/{sku}` does each; the ones that pass land even
    when others are rejected, and each one's result says which."""
    tenant_id = auth.caller.tenant_id
    results: list[ProductResult] = []
    records: list[ProductRecord] = []
    lines: list[int] = []
    for line, raw in enumerate(body.products, start=1):
        sku = str(raw.get("sku") or "")
        try:
            item = _BULK_ITEM.validate_python(raw)
            record = product_record(item.sku, item, item.sku, line)
        except ValidationError as exc:
            results.append(ProductResult(sku=sku, status="rejected", errors=_problems(exc)))
            continue
        except _Invalid as exc:
            results.append(ProductResult(sku=sku, status="rejected", errors=[str(exc)]))
            continue
        record.handle = await handle_for(auth.data, item.sku, item.handle)
        results.append(ProductResult(sku=item.sku, status="unchanged"))
        records.append(record)
        lines.append(line)
    currency = await _currency(session, tenant_id)
    await session.commit()
    upserted = await upsert_products(res.sessions, tenant_id, records, currency=currency)
    for line, outcome in zip(lines, upserted.outcomes, strict=True):
        result = results[line - 1]
        result.status = outcome
        result.errors = _reasons(upserted.summary.rejected, line)
    counts = {s: sum(r.status == s for r in results) for s in ("created", "updated", "unchanged", "rejected")}
    if counts["created"] or counts["updated"]:
        await request_embedding(res.jobs, tenant_id)
    return BulkOut(**counts, results=results)


@router.delete("/products/{sku}", responses=error_responses((404, "No product of this shop has the SKU."), 422))
async def delete_product(sku: SkuPath, auth: AdminKey, session: Session) -> ArchivedOut:
    """Archive the product with this SKU (or a variant of it): shoppers no longer see it; its rows stay, and putting
    it again brings it back."""
    product = await auth.data.products.by_any_sku(sku)
    if product is None:
        raise ApiError(404, "unknown_sku", f"Unknown SKU {sku!r}")
    await archive_product(auth.data, product)
    await session.commit()
    return ArchivedOut(sku=sku, status="archived")


@router.patch(
    "/products/{sku}/inventory",
    responses=error_responses(*BODY_ERRORS, (404, "No product of this shop has the SKU, or no such variant of it.")),
)
async def patch_inventory(sku: SkuPath, body: InventoryIn, auth: AdminKey, session: Session) -> InventoryOut:
    """Set the stock of a variant (`variant_sku`, else the one with the path's SKU) or of a product without
    variants; the product's stock becomes the sum of its variants'."""
    product = await auth.data.products.by_any_sku(sku)
    if product is None:
        raise ApiError(404, "unknown_sku", f"Unknown SKU {sku!r}")
    variants = await auth.data.variants.of_product(product.id)
    wanted = body.variant_sku or sku
    variant = next((v for v in variants if v.sku == wanted), None)
    if variants and variant is None:
        raise ApiError(404, "unknown_variant", f"Product {product.sku!r} has no variant with SKU {wanted!r}")
    done = await set_stock(auth.data, product, body.stock, variant=variant)
    await session.commit()
    return InventoryOut(sku=done.sku, variant_sku=done.variant_sku, stock=done.stock, product_stock=done.product_stock)


@router.put(
    "/orders/{number}",
    responses={201: {"model": Written, "description": "The order is new."}, **error_responses(*BODY_ERRORS)},
)
async def put_order(
    number: Annotated[str, Path(min_length=1, max_length=NUMBER_MAX, pattern=NO_NUL)],
    body: OrderIn,
    auth: AdminKey,
    session: Session,
    res: Annotated[Resources, Depends(resources)],
    response: Response,
) -> Written:
    """Create or replace one order by number, as `hub orders import` does; its customer is found by email, or
    created."""
    tenant_id = auth.caller.tenant_id
    placed = body.placed_at
    if placed is not None and placed.tzinfo is None:
        placed = placed.replace(tzinfo=UTC)
    items: list[dict[str, Any]] = []
    for n, item in enumerate(body.items):
        if not (item.title or item.sku):
            raise ApiError(422, "invalid_order", f"items.{n}: needs a sku or a title")
        extra = {k: v for k, v in (("size", item.size), ("colour", item.colour)) if v}
        title = item.title or item.sku
        items.append({"sku": item.sku, "title": title, "quantity": item.quantity, "unit_price": str(item.unit_price)})
        items[-1].update(extra)
    values: dict[str, Any] = {
        "status": body.status,
        "subtotal": body.subtotal or Decimal("0.00"),
        "shipping": body.shipping,
        "total": body.total,
        "currency": body.currency,
        "shipping_address": dict(body.shipping_address),
        "carrier": body.carrier or None,
        "tracking_number": body.tracking_number or None,
        "placed_at": placed.astimezone(UTC) if placed else None,
    }
    record = OrderRecord(1, number.strip(), body.email, body.customer_name, body.phone, values, items)
    currency = await _currency(session, tenant_id)
    await session.commit()
    summary = await import_orders(res.sessions, tenant_id, [record], [], currency=currency)
    if summary.created:
        response.status_code = 201
    return Written(status="created" if summary.created else "updated" if summary.updated else "unchanged")


@router.put(
    "/customers/{id}",
    responses={201: {"model": Written, "description": "The customer is new."}, **error_responses(*BODY_ERRORS)},
)
async def put_customer(
    email: Annotated[
        str, Path(alias="id", min_length=3, max_length=254, description="The customer's email: how HUB knows them.")
    ],
    body: CustomerIn,
    auth: AdminKey,
    session: Session,
    res: Annotated[Resources, Depends(resources)],
    response: Response,
) -> Written:
    """Create or update one customer, known by email as `hub customers import` knows them."""
    address = email.strip().lower()
    if not EMAIL.fullmatch(address):
        raise ApiError(422, "invalid_request", f"path.id: not an email: {email!r}")
    record = CustomerRecord(
        line=1,
        email=address,
        name=(body.name or address.split("@")[0])[:NAME_MAX],
        phone=phone(body.phone, body.country),
        tags=list(dict.fromkeys(body.tags)),
        marketing_opt_in=body.accepts_marketing,
        whatsapp_opt_in=body.accepts_sms,
        note=body.note,
    )
    await session.commit()
    summary = await import_customers(res.sessions, auth.caller.tenant_id, [record], [])
    if summary.created:
        response.status_code = 201
    return Written(status="created" if summary.created else "updated" if summary.updated else "unchanged")
