"""Serve HUB's own HTML pages: the landing page at `/` and the demo shop's storefront with the widget at `/demo`."""

from __future__ import annotations

from decimal import Decimal
from itertools import groupby
from pathlib import Path
from typing import Annotated, Any

import jinja2
from fastapi import APIRouter, Depends
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse

from hub.db import models as m
from hub.http.deps import Resources, Session, resources
from hub.http.errors import ApiError
from hub.http.limits import NO_NUL
from hub.seed.catalog import SHOP_SLUG
from hub.seed.demo import demo_storefront
from hub.tenancy.admin import tenant_by_slug
from hub.tenancy.config import TenantConfig
from hub.tenancy.repository import Products
from hub.text import format_money

router = APIRouter(include_in_schema=False)

_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        # The widget draws product photos from blob: URLs it fetched with the key, and styles its shadow root inline.
        "img-src 'self' blob:",
        "style-src 'self' 'unsafe-inline'",
        "script-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
"""Everything on HUB's pages comes from HUB's own origin; the browser refuses anything else."""


def _money(amount: Decimal, currency: str) -> str:
    return format_money(amount, currency, style="grouped")


def _render(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    html = _TEMPLATES.get_template(name).render(money=_money, **context)
    return HTMLResponse(
        html,
        status_code=status_code,
        headers={
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


MARK = Path(__file__).with_name("static") / "hub.svg"
"""HUB's mark: the icon of its pages, its API docs and its console."""


@router.get("/favicon.ico", response_class=FileResponse)
@router.get("/favicon.svg", response_class=FileResponse)
async def favicon() -> FileResponse:
    """Return HUB's mark as the browser's tab icon."""
    return FileResponse(MARK, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"})


@router.get("/", response_class=HTMLResponse)
async def landing(session: Session) -> HTMLResponse:
    """Say what HUB is and link every surface a newcomer can open."""
    tenant = await tenant_by_slug(session, SHOP_SLUG)
    return _render("landing.html", demo_shop=tenant.name if tenant is not None and tenant.active else None)


@router.get("/demo", response_class=HTMLResponse)
async def demo(session: Session, res: Annotated[Resources, Depends(resources)]) -> HTMLResponse:
    """Show the demo shop's catalog as a storefront with the chat widget embedded; 404 until it is seeded."""
    shop = await demo_storefront(session, res.settings.secret_key.get_secret_value())
    if shop is None:
        return _render("demo_missing.html", status_code=404)
    products = await Products(session, shop.tenant.id).list(
        m.Product.active.is_(True), order_by=[m.Product.category, m.Product.title]
    )
    return _render(
        "demo.html",
        shop_name=shop.tenant.name,
        brand=TenantConfig.model_validate(shop.tenant.settings or {}).brand,
        storefront_key=shop.storefront_key,
        categories=[(category, list(rows)) for category, rows in groupby(products, key=lambda p: p.category)],
        product_count=len(products),
    )


@router.get("/demo/products/{sku}/image", response_class=FileResponse)
async def demo_product_image(
    session: Session,
    res: Annotated[Resources, Depends(resources)],
    sku: Annotated[str, PathParam(max_length=64, pattern=NO_NUL)],
) -> FileResponse:
    """Return the photo of one of the demo shop's products, for its storefront page (which shows them to anyone)."""
    tenant = await tenant_by_slug(session, SHOP_SLUG)
    product = await Products(session, tenant.id).by_sku(sku) if tenant is not None and tenant.active else None
    if tenant is None or product is None or not product.active or not product.image_path:
        raise ApiError(404, "no_product_image", f"No photo for SKU {sku!r}")
    tenant_media = (res.settings.media_dir / str(tenant.id)).resolve()
    path = (res.settings.media_dir / product.image_path).resolve()
    if not path.is_relative_to(tenant_media) or not path.is_file():
        raise ApiError(404, "no_product_image", f"No photo for SKU {sku!r}")
    return FileResponse(path, headers={"Cache-Control": "public, max-age=3600"})
