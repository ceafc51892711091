"""Generate the demo shop's catalog, customers, order history and policies, deterministically."""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from hub.db.models import OrderStatus
from hub.text import format_money, format_order_number, format_sku

SHOP_NAME = "Northwind Threads"
SHOP_SLUG = "demo"
CURRENCY = "USD"
SUPPORT_EMAIL = "help@northwindthreads.example.com"
SUPPORT_PHONE = "+1 (555) 010-0199"
WHATSAPP_NUMBER = "+1 (555) 010-0000"

FREE_SHIPPING_THRESHOLD = Decimal("75.00")
STANDARD_SHIPPING_FEE = Decimal("5.95")
EXPRESS_SHIPPING_FEE = Decimal("14.95")
INTERNATIONAL_SHIPPING_FEE = Decimal("19.95")
INTERNATIONAL_FREE_SHIPPING_THRESHOLD = Decimal("150.00")
RETURN_WINDOW_DAYS = 30
RETURN_LABEL_FEE = Decimal("4.95")
REFUND_BUSINESS_DAYS = 5
PENDING_PAYMENT_EXPIRY_HOURS = 48

PRODUCT_COUNT = 240
CUSTOMER_COUNT = 520
ORDER_COUNT = 2100
FIRST_SKU = 1001
FIRST_ORDER_NUMBER = 10001
HISTORY_DAYS = 365
NEW_PRODUCT_DAYS = 45
"""Products tagged `new` launched within this many days, so older orders never contain them."""

SHIPPED_STATUSES = frozenset(
    {
        OrderStatus.SHIPPED,
        OrderStatus.OUT_FOR_DELIVERY,
        OrderStatus.DELIVERED,
        OrderStatus.RETURN_REQUESTED,
        OrderStatus.RETURNED,
        OrderStatus.REFUNDED,
    }
)
"""Statuses of orders that left the warehouse: these, and only these, carry a carrier and tracking number."""

IN_TRANSIT_STATUSES = frozenset(
    {OrderStatus.PAID, OrderStatus.PROCESSING, OrderStatus.SHIPPED, OrderStatus.OUT_FOR_DELIVERY}
)
"""Statuses with an estimated delivery date."""


class Category(StrEnum):
    TSHIRTS = "T-shirts"
    HOODIES = "Hoodies & Sweatshirts"
    BOTTOMS = "Jeans & Trousers"
    DRESSES = "Dresses"
    OUTERWEAR = "Jackets & Coats"
    FOOTWEAR = "Footwear"
    BAGS = "Bags"
    ACCESSORIES = "Accessories"
    HOME = "Home & Living"


class ProductType(StrEnum):
    """What the item is; stored as `attributes["product_type"]` and drawn by `hub.seed.images`."""

    TEE = "tee"
    LONG_SLEEVE_TEE = "long_sleeve_tee"
    TANK = "tank"
    HOODIE = "hoodie"
    SWEATSHIRT = "sweatshirt"
    TROUSERS = "trousers"
    DRESS = "dress"
    SLIP_DRESS = "slip_dress"
    JACKET = "jacket"
    PUFFER = "puffer"
    COAT = "coat"
    SNEAKER = "sneaker"
    BOOT = "boot"
    LOAFER = "loafer"
    SANDAL = "sandal"
    TOTE = "tote"
    BACKPACK = "backpack"
    CROSSBODY = "crossbody"
    DUFFEL = "duffel"
    BEANIE = "beanie"
    CAP = "cap"
    BUCKET_HAT = "bucket_hat"
    SCARF = "scarf"
    BELT = "belt"
    SOCKS = "socks"
    CARD_HOLDER = "card_holder"
    MUG = "mug"
    CANDLE = "candle"
    CUSHION = "cushion"
    THROW = "throw"


class PolicyTopic(StrEnum):
    SHIPPING_DELIVERY = "shipping_delivery"
    RETURNS_REFUNDS = "returns_refunds"
    CANCELLATIONS_ORDER_CHANGES = "cancellations_order_changes"
    PAYMENT = "payment"
    ACCOUNT = "account"
    INVOICE = "invoice"
    MARKETING_OPT_IN = "marketing_opt_in"
    CONTACT_HUMAN = "contact_human"
    SIZING = "sizing"


class Carrier(StrEnum):
    USPS = "USPS"
    UPS = "UPS"
    FEDEX = "FedEx"
    DHL = "DHL Express"


class ShippingMethod(StrEnum):
    STANDARD = "standard"
    EXPRESS = "express"
    INTERNATIONAL = "international"


@dataclass(frozen=True)
class ShippingRate:
    fee: Decimal
    free_from: Decimal | None
    """Subtotal from which this method is free; None means never free."""
    carriers: tuple[Carrier, ...]
    transit_days: tuple[int, int]
    """Business days from dispatch to delivery, fastest and slowest."""

    def fee_for(self, subtotal: Decimal) -> Decimal:
        """Return the shipping charge for an order with this subtotal."""
        if self.free_from is not None and subtotal >= self.free_from:
            return Decimal("0.00")
        return self.fee


SHIPPING_RATES: dict[ShippingMethod, ShippingRate] = {
    ShippingMethod.STANDARD: ShippingRate(
        STANDARD_SHIPPING_FEE, FREE_SHIPPING_THRESHOLD, (Carrier.USPS, Carrier.UPS), (3, 5)
    ),
    ShippingMethod.EXPRESS: ShippingRate(EXPRESS_SHIPPING_FEE, None, (Carrier.FEDEX,), (1, 2)),
    ShippingMethod.INTERNATIONAL: ShippingRate(
        INTERNATIONAL_SHIPPING_FEE, INTERNATIONAL_FREE_SHIPPING_THRESHOLD, (Carrier.DHL,), (5, 10)
    ),
}

COLOUR_HEX: dict[str, str] = {
    "White": "#F5F4EF",
    "Black": "#1E1E1F",
    "Navy": "#1F2A44",
    "Heather Grey": "#A9ABAE",
    "Charcoal": "#3F4247",
    "Sage": "#9CAF88",
    "Oatmeal": "#D9CDB6",
    "Cream": "#EFE5CF",
    "Ecru": "#E6DDC8",
    "Stone": "#C4BBA9",
    "Rust": "#B0532E",
    "Terracotta": "#C46A4B",
    "Olive": "#6B6B3A",
    "Forest": "#2F4F3A",
    "Sky Blue": "#9CC3E0",
    "Lavender": "#B7A9D1",
    "Mustard": "#D2A12F",
    "Dusty Rose": "#D3A2A0",
    "Burgundy": "#6D1F2B",
    "Khaki": "#B6A275",
    "Camel": "#C1996B",
    "Tan": "#C8A27A",
    "Cognac": "#9A4E25",
    "Chocolate": "#5A3B2E",
    "Light Wash": "#9DBAD6",
    "Mid Wash": "#5B7FA6",
    "Dark Wash": "#2C4260",
    "Washed Black": "#3A3A3D",
}
"""Every colour name the catalog uses, with the shade the reference images are drawn in."""

APPAREL_SIZES = ("XS", "S", "M", "L", "XL", "XXL")
WAIST_SIZES = ("26", "27", "28", "29", "30", "31", "32", "33", "34", "36", "38")
SHOE_SIZES_EU = ("36", "37", "38", "39", "40", "41", "42", "43", "44", "45", "46")
SHOE_SIZE_US: dict[str, str] = {
    "36": "W 6 / M 4",
    "37": "W 6.5 / M 5",
    "38": "W 7.5 / M 6",
    "39": "W 8 / M 6.5",
    "40": "W 9 / M 7",
    "41": "W 9.5 / M 8",
    "42": "W 10 / M 8.5",
    "43": "W 11 / M 9.5",
    "44": "W 12 / M 10",
    "45": "W 13 / M 11",
    "46": "M 12",
}
ONE_SIZE = ("One Size",)
INSEAM_INCHES = 32


@dataclass(frozen=True)
class DemoShop:
    """A whole shop as plain rows: product, customer, order and policy dicts ready to insert."""

    shop_name: str
    shop_slug: str
    brand: dict[str, Any]
    """BrandKit fields."""
    products: list[dict[str, Any]]
    customers: list[dict[str, Any]]
    orders: list[dict[str, Any]]
    """Order columns, with `customer_email` standing in for `customer_id`."""
    policies: list[dict[str, Any]]


# --- catalog ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Material:
    label: str
    """Short name used in titles."""
    composition: str
    feel: str
    care: str
    price_factor: float
    tags: tuple[str, ...] = ()
    colours: tuple[str, ...] = ()
    """Colours this material comes in, when narrower than the category's palette (e.g. denim washes)."""


@dataclass(frozen=True)
class _Style:
    name: str
    product_type: ProductType
    blurb: str
    base_price: int
    materials: tuple[str, ...]
    fit: str | None = None
    sizes: tuple[str, ...] | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class _CategorySpec:
    category: Category
    count: int
    sizes: tuple[str, ...]
    colours: tuple[str, ...]
    styles: tuple[_Style, ...]
    min_sizes: int = 4


_DENIM_WASHES = ("Light Wash", "Mid Wash", "Dark Wash", "Washed Black")
_LEATHER_COLOURS = ("Black", "Tan", "Cognac", "Chocolate")
_SUEDE_COLOURS = ("Tan", "Chocolate", "Stone", "Sage", "Navy")
_MACHINE_COLD = "Machine wash cold with like colours and tumble dry low."

_MATERIALS: dict[str, _Material] = {
    "organic_jersey": _Material(
        "Organic Cotton",
        "100% organic cotton jersey, 180 gsm",
        "soft, breathable and GOTS-certified",
        _MACHINE_COLD,
        1.0,
        ("organic",),
    ),
    "pima": _Material(
        "Pima Cotton", "100% Pima cotton jersey, 160 gsm", "smooth with a subtle sheen", _MACHINE_COLD, 1.25
    ),
    "slub": _Material(
        "Slub Cotton",
        "100% cotton slub jersey, 170 gsm",
        "textured with a lived-in look",
        "Machine wash cold inside out and line dry.",
        1.0,
    ),
    "linen_jersey": _Material(
        "Linen Blend",
        "55% linen, 45% cotton jersey",
        "light and cool in summer heat",
        "Machine wash cold on a gentle cycle and line dry.",
        1.2,
    ),
    "merino_jersey": _Material(
        "Merino",
        "100% merino wool jersey, 150 gsm",
        "temperature-regulating and naturally odour-resistant",
        "Hand wash cold or machine wash on a wool cycle, then dry flat.",
        2.0,
    ),
    "recycled_jersey": _Material(
        "Recycled Cotton",
        "60% recycled cotton, 40% organic cotton jersey",
        "made from pre-consumer cutting waste",
        _MACHINE_COLD,
        0.95,
        ("recycled",),
    ),
    "heavy_fleece": _Material(
        "Heavyweight",
        "80% cotton, 20% recycled polyester brushed fleece, 400 gsm",
        "warm and substantial with a soft brushed interior",
        "Machine wash cold inside out and tumble dry low.",
        1.15,
    ),
    "french_terry": _Material(
        "Organic French Terry",
        "100% organic cotton French terry, 330 gsm",
        "midweight with a looped interior that breathes",
        "Machine wash cold inside out and tumble dry low.",
        1.0,
        ("organic",),
    ),
    "loopback": _Material(
        "Loopback",
        "100% cotton loopback jersey, 360 gsm",
        "dense and structured, made to age well",
        "Machine wash cold and line dry to limit shrinkage.",
        1.1,
    ),
    "recycled_fleece": _Material(
        "Recycled Fleece",
        "100% recycled polyester polar fleece",
        "lightweight, quick-drying and warm",
        "Machine wash cold and do not tumble dry.",
        0.9,
        ("recycled",),
    ),
    "selvedge": _Material(
        "Selvedge",
        "100% cotton selvedge denim, 13.5 oz",
        "rigid at first and moulding to you with wear",
        "Wash rarely, inside out in cold water, and line dry.",
        1.35,
        colours=_DENIM_WASHES,
    ),
    "stretch_denim": _Material(
        "Stretch",
        "92% cotton, 6% polyester, 2% elastane denim, 11 oz",
        "with comfortable all-day stretch",
        "Machine wash cold inside out and line dry.",
        1.0,
        colours=_DENIM_WASHES,
    ),
    "organic_twill": _Material(
        "Organic Twill",
        "100% organic cotton twill",
        "soft, durable and easy to wear",
        "Machine wash cold, tumble dry low and warm iron.",
        0.95,
        ("organic",),
    ),
    "linen": _Material(
        "Linen",
        "100% European linen",
        "breathable and relaxed, getting softer with every wash",
        "Machine wash cold on a gentle cycle; line dry and iron while damp.",
        1.1,
    ),
    "corduroy": _Material(
        "Corduroy",
        "100% cotton 8-wale corduroy",
        "soft with a classic ribbed texture",
        "Machine wash cold inside out and tumble dry low.",
        1.05,
    ),
    "tencel": _Material(
        "Tencel",
        "100% Tencel lyocell",
        "fluid and cool with a soft drape",
        "Machine wash cold on a gentle cycle and line dry.",
        1.05,
    ),
    "poplin": _Material(
        "Cotton Poplin",
        "100% organic cotton poplin",
        "crisp, light and breathable",
        "Machine wash cold and warm iron.",
        0.95,
        ("organic",),
    ),
    "silk": _Material(
        "Washed Silk",
        "100% sand-washed mulberry silk",
        "with a matte, fluid hand",
        "Hand wash cold or dry clean; dry flat away from sunlight.",
        1.9,
    ),
    "waxed_cotton": _Material(
        "Waxed Cotton",
        "100% cotton canvas with a paraffin wax finish",
        "water-resistant and developing a patina with wear",
        "Do not wash; wipe clean with a damp cloth and re-wax once a year.",
        1.2,
    ),
    "recycled_nylon": _Material(
        "Recycled Nylon",
        "100% recycled nylon ripstop with a PFC-free water-repellent finish",
        "light, packable and windproof",
        "Machine wash cold with zips closed; tumble dry low to refresh the finish.",
        1.0,
        ("recycled",),
    ),
    "wool_blend": _Material(
        "Wool Blend",
        "70% recycled wool, 30% polyamide melton",
        "warm and dense with a clean finish",
        "Dry clean only.",
        1.4,
        ("recycled",),
    ),
    "canvas": _Material(
        "Organic Canvas",
        "100% organic cotton canvas, 10 oz",
        "sturdy and softening over time",
        "Machine wash cold and line dry.",
        0.9,
        ("organic",),
    ),
    "rigid_denim": _Material(
        "Rigid Denim",
        "100% cotton denim, 12 oz",
        "sturdy and fading with character",
        "Machine wash cold inside out and line dry.",
        1.0,
        colours=_DENIM_WASHES,
    ),
    "gabardine": _Material(
        "Gabardine",
        "100% cotton gabardine with a water-repellent finish",
        "tightly woven and shower-proof",
        "Dry clean only.",
        1.3,
    ),
    "shoe_leather": _Material(
        "Leather",
        "full-grain leather upper, leather lining and natural rubber sole",
        "supportive and broken in within a week",
        "Wipe clean with a damp cloth and condition the leather every few months.",
        1.2,
        colours=(*_LEATHER_COLOURS, "White"),
    ),
    "shoe_suede": _Material(
        "Suede",
        "suede upper, leather lining and crepe rubber sole",
        "soft and lightweight",
        "Brush with a suede brush and protect with suede spray before first wear.",
        1.1,
        colours=_SUEDE_COLOURS,
    ),
    "shoe_canvas": _Material(
        "Canvas",
        "organic cotton canvas upper and natural rubber sole",
        "light, breathable and vegan",
        "Spot clean with mild soap and a soft brush, then air dry.",
        0.7,
        ("organic", "vegan"),
    ),
    "shoe_knit": _Material(
        "Recycled Knit",
        "recycled polyester knit upper and sugarcane-based EVA sole",
        "flexible, breathable and vegan",
        "Remove the insoles and machine wash cold on a gentle cycle; air dry.",
        0.9,
        ("recycled", "vegan"),
    ),
    "bag_waxed": _Material(
        "Waxed Canvas",
        "waxed cotton canvas with vegetable-tanned leather trims",
        "water-resistant and ageing beautifully",
        "Wipe clean with a damp cloth; do not machine wash.",
        1.1,
    ),
    "bag_leather": _Material(
        "Leather",
        "vegetable-tanned full-grain leather",
        "structured and developing a rich patina",
        "Wipe clean with a dry cloth and condition twice a year.",
        1.8,
        colours=_LEATHER_COLOURS,
    ),
    "bag_nylon": _Material(
        "Recycled Nylon",
        "100% recycled nylon with a water-repellent finish",
        "light and easy to carry",
        "Spot clean with mild soap and water.",
        0.9,
        ("recycled", "vegan"),
    ),
    "bag_canvas": _Material(
        "Organic Canvas",
        "100% organic cotton canvas, 12 oz",
        "sturdy and washable",
        "Machine wash cold and line dry.",
        0.7,
        ("organic", "vegan"),
    ),
    "merino_knit": _Material(
        "Merino", "100% merino wool rib knit", "warm, soft and non-itchy", "Hand wash cold and dry flat.", 1.0
    ),
    "lambswool": _Material(
        "Lambswool", "100% lambswool", "warm, light and soft", "Hand wash cold or dry clean; dry flat.", 1.0
    ),
    "acc_twill": _Material(
        "Cotton Twill",
        "100% organic cotton twill",
        "light and breathable",
        "Hand wash cold and reshape while damp.",
        1.0,
        ("organic",),
    ),
    "bridle_leather": _Material(
        "Bridle Leather",
        "full-grain bridle leather with a solid brass buckle",
        "stiff at first and softening with wear",
        "Wipe clean and condition with leather balm as needed.",
        1.0,
        colours=_LEATHER_COLOURS,
    ),
    "sock_cotton": _Material(
        "Organic Cotton",
        "80% organic cotton, 18% polyamide, 2% elastane",
        "cushioned underfoot with a reinforced heel and toe",
        "Machine wash warm and tumble dry low.",
        1.0,
        ("organic",),
    ),
    "card_leather": _Material(
        "Leather",
        "vegetable-tanned full-grain leather",
        "slim and hand-stitched",
        "Wipe clean with a dry cloth.",
        1.0,
        colours=_LEATHER_COLOURS,
    ),
    "stoneware": _Material(
        "Stoneware", "glazed stoneware", "thrown and glazed in small batches", "Dishwasher and microwave safe.", 1.0
    ),
    "soy_wax": _Material(
        "Soy Wax",
        "100% soy wax with a cotton wick in a recycled glass vessel",
        "clean-burning with about 45 hours of burn time",
        "Trim the wick to 5 mm before each use and never leave it burning unattended.",
        1.0,
    ),
    "home_linen": _Material(
        "Linen",
        "100% stonewashed European linen",
        "soft, absorbent and quick-drying",
        "Machine wash warm and tumble dry low.",
        1.0,
    ),
    "home_wool": _Material(
        "Lambswool", "100% lambswool", "warm and light", "Dry clean or hand wash cold; dry flat.", 1.4
    ),
    "waffle_cotton": _Material(
        "Waffle Cotton",
        "100% organic cotton waffle weave",
        "absorbent and light",
        "Machine wash warm and tumble dry low.",
        1.0,
        ("organic",),
    ),
}

_TEE_JERSEYS = ("organic_jersey", "pima", "slub", "recycled_jersey", "linen_jersey")

_CATEGORIES: tuple[_CategorySpec, ...] = (
    _CategorySpec(
        Category.TSHIRTS,
        36,
        APPAREL_SIZES,
        (
            "White",
            "Black",
            "Navy",
            "Heather Grey",
            "Sage",
            "Oatmeal",
            "Rust",
            "Olive",
            "Sky Blue",
            "Forest",
            "Terracotta",
            "Ecru",
            "Lavender",
            "Mustard",
        ),
        (
            _Style(
                "Crew Tee",
                ProductType.TEE,
                "A regular-fit crew-neck tee with a ribbed collar and a straight hem.",
                32,
                _TEE_JERSEYS,
                "regular",
            ),
            _Style(
                "V-Neck Tee",
                ProductType.TEE,
                "A regular-fit tee with a narrow V-neck and clean, twin-needle seams.",
                32,
                _TEE_JERSEYS,
                "regular",
            ),
            _Style(
                "Pocket Tee",
                ProductType.TEE,
                "A relaxed crew-neck tee with a patch pocket on the chest.",
                36,
                _TEE_JERSEYS,
                "relaxed",
            ),
            _Style(
                "Boxy Tee",
                ProductType.TEE,
                "A boxy, slightly cropped tee with dropped shoulders and a heavier collar.",
                38,
                _TEE_JERSEYS,
                "boxy",
            ),
            _Style(
                "Long Sleeve Tee",
                ProductType.LONG_SLEEVE_TEE,
                "A regular-fit long-sleeve tee with ribbed cuffs.",
                42,
                ("organic_jersey", "pima", "merino_jersey", "recycled_jersey"),
                "regular",
            ),
            _Style(
                "Henley",
                ProductType.LONG_SLEEVE_TEE,
                "A slim long-sleeve henley with a three-button placket.",
                48,
                ("slub", "merino_jersey", "organic_jersey"),
                "slim",
            ),
            _Style(
                "Muscle Tank",
                ProductType.TANK,
                "A relaxed tank with deep armholes and a curved hem.",
                28,
                ("organic_jersey", "slub", "linen_jersey"),
                "relaxed",
            ),
        ),
        min_sizes=5,
    ),
    _CategorySpec(
        Category.HOODIES,
        26,
        APPAREL_SIZES,
        ("Heather Grey", "Black", "Navy", "Oatmeal", "Forest", "Burgundy", "Charcoal", "Sage", "Rust", "Cream"),
        (
            _Style(
                "Pullover Hoodie",
                ProductType.HOODIE,
                "A regular-fit pullover hoodie with a lined hood, flat drawcords and a kangaroo pocket.",
                78,
                ("heavy_fleece", "french_terry", "loopback"),
                "regular",
            ),
            _Style(
                "Oversized Hoodie",
                ProductType.HOODIE,
                "An oversized hoodie with dropped shoulders, a double-layer hood and a kangaroo pocket.",
                84,
                ("heavy_fleece", "french_terry"),
                "oversized",
            ),
            _Style(
                "Zip Hoodie",
                ProductType.HOODIE,
                "A regular-fit zip-through hoodie with a metal zip and side pockets.",
                88,
                ("heavy_fleece", "french_terry", "loopback"),
                "regular",
            ),
            _Style(
                "Crewneck Sweatshirt",
                ProductType.SWEATSHIRT,
                "A classic crewneck sweatshirt with ribbed cuffs and hem.",
                68,
                ("heavy_fleece", "french_terry", "loopback"),
                "regular",
            ),
            _Style(
                "Half-Zip Sweatshirt",
                ProductType.SWEATSHIRT,
                "A relaxed sweatshirt with a stand collar and a half-length zip.",
                82,
                ("french_terry", "loopback", "recycled_fleece"),
                "relaxed",
            ),
            _Style(
                "Quarter-Zip Fleece",
                ProductType.SWEATSHIRT,
                "A regular-fit pullover fleece with a quarter-length zip and a chest pocket.",
                74,
                ("recycled_fleece",),
                "regular",
            ),
        ),
        min_sizes=5,
    ),
    _CategorySpec(
        Category.BOTTOMS,
        30,
        WAIST_SIZES,
        ("Khaki", "Olive", "Stone", "Black", "Navy", "Chocolate", "Ecru", "Charcoal"),
        (
            _Style(
                "Straight Jean",
                ProductType.TROUSERS,
                "A mid-rise jean with a straight leg and a classic five-pocket build.",
                98,
                ("selvedge", "stretch_denim"),
                "straight",
            ),
            _Style(
                "Slim Jean",
                ProductType.TROUSERS,
                "A mid-rise jean that is slim through the thigh and tapered to the ankle.",
                98,
                ("selvedge", "stretch_denim"),
                "slim",
            ),
            _Style(
                "Wide-Leg Jean",
                ProductType.TROUSERS,
                "A high-rise jean with a full, wide leg that skims the floor.",
                108,
                ("selvedge", "stretch_denim"),
                "wide",
            ),
            _Style(
                "Relaxed Jean",
                ProductType.TROUSERS,
                "A low-slung, relaxed jean with room through the seat and thigh.",
                98,
                ("selvedge", "stretch_denim"),
                "relaxed",
            ),
            _Style(
                "Tapered Chino",
                ProductType.TROUSERS,
                "A mid-rise chino that is easy through the thigh and tapered below the knee.",
                78,
                ("organic_twill", "corduroy"),
                "tapered",
            ),
            _Style(
                "Pleated Trouser",
                ProductType.TROUSERS,
                "A high-rise trouser with single front pleats and a wide, straight leg.",
                98,
                ("organic_twill", "linen", "corduroy"),
                "wide",
            ),
            _Style(
                "Cargo Pant",
                ProductType.TROUSERS,
                "A relaxed cargo pant with bellowed side pockets and an adjustable hem.",
                88,
                ("organic_twill", "corduroy"),
                "relaxed",
            ),
            _Style(
                "Drawstring Trouser",
                ProductType.TROUSERS,
                "A relaxed pull-on trouser with an elasticated drawstring waist.",
                72,
                ("linen", "organic_twill"),
                "relaxed",
            ),
        ),
        min_sizes=6,
    ),
    _CategorySpec(
        Category.DRESSES,
        26,
        APPAREL_SIZES[:5],
        (
            "Black",
            "Navy",
            "Sage",
            "Terracotta",
            "Dusty Rose",
            "Cream",
            "Sky Blue",
            "Burgundy",
            "Mustard",
            "Lavender",
            "Forest",
            "Ecru",
        ),
        (
            _Style(
                "Wrap Dress",
                ProductType.DRESS,
                "A midi wrap dress with short sleeves and a self-tie waist.",
                118,
                ("tencel", "silk", "linen"),
                "regular",
            ),
            _Style(
                "Shirt Dress",
                ProductType.DRESS,
                "A button-through shirt dress with a point collar and a removable belt.",
                108,
                ("poplin", "linen", "tencel"),
                "relaxed",
            ),
            _Style(
                "Midi Dress",
                ProductType.DRESS,
                "A midi dress with a fitted bodice, short sleeves and a softly gathered skirt.",
                112,
                ("linen", "poplin", "tencel"),
                "regular",
            ),
            _Style(
                "Maxi Dress",
                ProductType.DRESS,
                "An ankle-length dress with short sleeves and a flowing tiered skirt.",
                128,
                ("linen", "tencel", "poplin"),
                "relaxed",
            ),
            _Style(
                "T-Shirt Dress",
                ProductType.DRESS,
                "A relaxed knee-length dress cut like a long tee.",
                68,
                ("organic_jersey",),
                "relaxed",
            ),
            _Style(
                "Slip Dress",
                ProductType.SLIP_DRESS,
                "A bias-cut slip dress with a V-neck and adjustable straps.",
                138,
                ("silk", "tencel"),
                "slim",
            ),
            _Style(
                "Cami Midi Dress",
                ProductType.SLIP_DRESS,
                "A midi dress with thin adjustable straps and a smocked back.",
                98,
                ("linen", "poplin", "tencel"),
                "regular",
            ),
        ),
    ),
    _CategorySpec(
        Category.OUTERWEAR,
        24,
        APPAREL_SIZES,
        ("Olive", "Navy", "Black", "Khaki", "Camel", "Charcoal", "Forest", "Tan", "Rust", "Stone"),
        (
            _Style(
                "Chore Jacket",
                ProductType.JACKET,
                "A boxy chore jacket with three patch pockets and corozo buttons.",
                148,
                ("canvas", "waxed_cotton", "corduroy"),
                "boxy",
            ),
            _Style(
                "Denim Jacket",
                ProductType.JACKET,
                "A classic trucker jacket with button-flap chest pockets.",
                138,
                ("rigid_denim",),
                "regular",
            ),
            _Style(
                "Field Jacket",
                ProductType.JACKET,
                "A regular-fit field jacket with four front pockets and a stowaway hood.",
                178,
                ("waxed_cotton", "canvas"),
                "regular",
            ),
            _Style(
                "Rain Jacket",
                ProductType.JACKET,
                "A hooded rain jacket with taped seams and a two-way zip.",
                158,
                ("recycled_nylon",),
                "regular",
            ),
            _Style(
                "Puffer Jacket",
                ProductType.PUFFER,
                "A quilted puffer jacket insulated with recycled down alternative, with a high collar.",
                198,
                ("recycled_nylon",),
                "regular",
            ),
            _Style(
                "Overcoat",
                ProductType.COAT,
                "A single-breasted overcoat that falls below the knee, with notch lapels.",
                268,
                ("wool_blend",),
                "regular",
            ),
            _Style(
                "Trench Coat",
                ProductType.COAT,
                "A double-breasted trench coat with a storm flap and a belted waist.",
                248,
                ("gabardine",),
                "relaxed",
            ),
        ),
        min_sizes=5,
    ),
    _CategorySpec(
        Category.FOOTWEAR,
        28,
        SHOE_SIZES_EU,
        ("White", "Black", "Tan", "Cognac", "Chocolate", "Stone", "Navy", "Sage", "Ecru"),
        (
            _Style(
                "Court Sneaker",
                ProductType.SNEAKER,
                "A minimalist low-top court sneaker with a cupsole.",
                128,
                ("shoe_leather", "shoe_suede"),
            ),
            _Style(
                "Canvas Low-Top",
                ProductType.SNEAKER,
                "A vulcanised low-top sneaker with a cushioned insole.",
                68,
                ("shoe_canvas",),
            ),
            _Style(
                "Everyday Runner",
                ProductType.SNEAKER,
                "A lightweight runner with a responsive foam midsole.",
                118,
                ("shoe_knit",),
            ),
            _Style(
                "Chelsea Boot",
                ProductType.BOOT,
                "An ankle-height Chelsea boot with elastic side gussets and a pull tab.",
                198,
                ("shoe_leather", "shoe_suede"),
            ),
            _Style(
                "Desert Boot",
                ProductType.BOOT,
                "A two-eyelet desert boot with an unlined, flexible build.",
                158,
                ("shoe_suede", "shoe_leather"),
            ),
            _Style(
                "Penny Loafer",
                ProductType.LOAFER,
                "A slip-on penny loafer with a moccasin toe and a stacked heel.",
                168,
                ("shoe_leather", "shoe_suede"),
            ),
            _Style(
                "Slide Sandal",
                ProductType.SANDAL,
                "A slide sandal with a contoured cork footbed and a single wide strap.",
                78,
                ("shoe_leather", "shoe_suede"),
            ),
        ),
        min_sizes=7,
    ),
    _CategorySpec(
        Category.BAGS,
        20,
        ONE_SIZE,
        ("Black", "Tan", "Cognac", "Olive", "Navy", "Stone", "Ecru", "Chocolate"),
        (
            _Style(
                "Market Tote",
                ProductType.TOTE,
                "An open tote with long shoulder handles and an inner zip pocket.",
                58,
                ("bag_canvas", "bag_waxed", "bag_leather"),
            ),
            _Style(
                "Daypack",
                ProductType.BACKPACK,
                "A 20-litre backpack with a padded laptop sleeve and two side pockets.",
                118,
                ("bag_nylon", "bag_waxed", "bag_canvas"),
            ),
            _Style(
                "Crossbody Bag",
                ProductType.CROSSBODY,
                "A compact crossbody bag with a magnetic flap and an adjustable strap.",
                98,
                ("bag_leather", "bag_nylon"),
            ),
            _Style(
                "Weekender",
                ProductType.DUFFEL,
                "A 40-litre weekend bag with twin carry handles and a detachable shoulder strap.",
                168,
                ("bag_waxed", "bag_leather", "bag_nylon"),
            ),
        ),
    ),
    _CategorySpec(
        Category.ACCESSORIES,
        26,
        ONE_SIZE,
        (
            "Black",
            "Navy",
            "Camel",
            "Charcoal",
            "Forest",
            "Rust",
            "Heather Grey",
            "Oatmeal",
            "Cognac",
            "Burgundy",
            "Mustard",
            "Cream",
        ),
        (
            _Style(
                "Ribbed Beanie",
                ProductType.BEANIE,
                "A close-fitting beanie with a deep turn-up cuff.",
                34,
                ("merino_knit", "lambswool"),
            ),
            _Style(
                "Baseball Cap",
                ProductType.CAP,
                "A six-panel cap with a curved brim and an adjustable strap.",
                32,
                ("acc_twill",),
            ),
            _Style("Bucket Hat", ProductType.BUCKET_HAT, "A soft bucket hat with a stitched brim.", 36, ("acc_twill",)),
            _Style(
                "Scarf",
                ProductType.SCARF,
                "A generous scarf, 180 by 30 cm, with fringed ends.",
                58,
                ("lambswool", "merino_knit"),
            ),
            _Style(
                "Belt",
                ProductType.BELT,
                "A 3.5 cm belt with a solid brass buckle.",
                64,
                ("bridle_leather",),
                sizes=("S", "M", "L", "XL"),
            ),
            _Style(
                "Crew Socks 3-Pack",
                ProductType.SOCKS,
                "Three pairs of mid-calf crew socks with a ribbed cuff.",
                24,
                ("sock_cotton",),
                sizes=("S/M", "L/XL"),
                tags=("final-sale",),
            ),
            _Style(
                "Card Holder",
                ProductType.CARD_HOLDER,
                "A slim card holder with four card slots and a centre pocket.",
                45,
                ("card_leather",),
            ),
        ),
    ),
    _CategorySpec(
        Category.HOME,
        24,
        ONE_SIZE,
        ("Ecru", "Sage", "Terracotta", "Oatmeal", "Charcoal", "Dusty Rose", "Sky Blue", "White", "Mustard", "Stone"),
        (
            _Style("Mug", ProductType.MUG, "A 350 ml mug with a generous handle.", 24, ("stoneware",)),
            _Style(
                "Candle",
                ProductType.CANDLE,
                "A 220 g scented candle blended with notes of cedar, fig and sea salt.",
                38,
                ("soy_wax",),
            ),
            _Style(
                "Cushion Cover",
                ProductType.CUSHION,
                "A 50 by 50 cm cushion cover with a hidden zip; insert not included.",
                42,
                ("home_linen", "waffle_cotton"),
            ),
            _Style(
                "Throw Blanket",
                ProductType.THROW,
                "A 130 by 180 cm throw with fringed ends.",
                128,
                ("home_wool", "home_linen", "waffle_cotton"),
            ),
            _Style(
                "Bath Towel",
                ProductType.THROW,
                "A 70 by 140 cm bath towel with a hanging loop.",
                38,
                ("waffle_cotton", "home_linen"),
            ),
            _Style(
                "Napkin Set of 4",
                ProductType.THROW,
                "Four 45 by 45 cm napkins with mitred corners.",
                36,
                ("home_linen",),
            ),
        ),
    ),
)


def _money(value: float | Decimal) -> Decimal:
    return Decimal(value).quantize(Decimal("0.01"))


def _price(rng: random.Random, style: _Style, material: _Material) -> Decimal:
    raw = style.base_price * material.price_factor * rng.uniform(0.95, 1.08)
    dollars = _money(max(10, 2 * round(raw / 2)))
    # Most prices end in a whole dollar; a few carry the .95 that outlet-style pricing uses.
    return dollars - Decimal("0.05") if rng.random() < 0.15 else dollars


def _size_run(rng: random.Random, sizes: tuple[str, ...], minimum: int) -> list[str]:
    if len(sizes) <= minimum:
        return list(sizes)
    length = rng.randint(minimum, len(sizes))
    start = rng.randint(0, len(sizes) - length)
    return list(sizes[start : start + length])


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _description(category: Category, style: _Style, material: _Material, sizes: list[str], colours: list[str]) -> str:
    made = f"Made from {material.composition}, {material.feel}."
    if sizes == list(ONE_SIZE):
        available = f"One size, in {_join(colours)}." if len(colours) > 1 else "One size."
    elif category is Category.FOOTWEAR:
        available = f"Available in EU sizes {sizes[0]}–{sizes[-1]}."
    elif category is Category.BOTTOMS:
        available = f"Available in waist sizes {sizes[0]}–{sizes[-1]} with a {INSEAM_INCHES}-inch inseam."
    elif len(sizes) > 2:
        available = f"Available in sizes {sizes[0]}–{sizes[-1]}."
    else:
        available = f"Available in sizes {_join(sizes)}."
    return f"{style.blurb} {made} {material.care} {available}"


def _build_products(rng: random.Random) -> list[dict[str, Any]]:
    products: list[dict[str, Any]] = []
    titles: set[str] = set()
    for spec in _CATEGORIES:
        for i in range(spec.count):
            style = spec.styles[i % len(spec.styles)]
            for _ in range(50):
                material = _MATERIALS[rng.choice(style.materials)]
                palette = material.colours or spec.colours
                n_colours = 1 if rng.random() < 0.6 else rng.randint(2, min(4, len(palette)))
                colours = rng.sample(palette, n_colours)
                base = f"{material.label} {style.name}"
                title = f"{base} — {colours[0]}" if n_colours == 1 else base
                if title not in titles:
                    break
            else:
                raise RuntimeError(f"no unique title left for {style.name!r}")
            titles.add(title)
            sku = format_sku(FIRST_SKU + len(products))
            sizes = list(style.sizes) if style.sizes else _size_run(rng, spec.sizes, spec.min_sizes)
            attributes: dict[str, Any] = {
                "product_type": str(style.product_type),
                "sizes": sizes,
                "colours": colours,
                "material": material.composition,
                "care": material.care,
            }
            if style.fit:
                attributes["fit"] = style.fit
            if spec.category is Category.BOTTOMS:
                attributes["inseam_in"] = INSEAM_INCHES
            if spec.category is Category.FOOTWEAR:
                attributes["size_system"] = "EU"
                attributes["us_sizes"] = {s: SHOE_SIZE_US[s] for s in sizes}
            roll = rng.random()
            stock = 0 if roll < 0.10 else rng.randint(1, 5) if roll < 0.22 else rng.randint(8, 160)
            tags = list(material.tags) + list(style.tags)
            if rng.random() < 0.15:
                tags.append("new")
            if rng.random() < 0.15:
                tags.append("bestseller")
            if rng.random() < 0.05:
                tags.append("limited")
            if spec.category in (Category.HOME, Category.ACCESSORIES) and rng.random() < 0.35:
                tags.append("gift-idea")
            products.append(
                {
                    "sku": sku,
                    "title": title,
                    "description": _description(spec.category, style, material, sizes, colours),
                    "category": str(spec.category),
                    "price": _price(rng, style, material),
                    "currency": CURRENCY,
                    "stock": stock,
                    "attributes": attributes,
                    "tags": tags,
                    "image_path": f"products/{sku}.png",
                    "handle": None,  # made in HUB, not imported from a shop platform
                    "compare_at_price": None,
                }
            )
    return products


# --- customers -------------------------------------------------------------------------------------

_FIRST_NAMES = tuple(
    "Olivia Liam Emma Noah Ava Elijah Sophia James Isabella Lucas Mia Mateo Amelia Benjamin Harper Theo "
    "Evelyn Henry Aria Leo Chloe Daniel Layla Samuel Nora Julian Zoë Owen Maya Ethan Priya Arjun Aisha "
    "Omar Fatima Yusuf Mei Wei Hana Kenji Sofía José Camila Diego Valentina Luis Renée André Chiara Marco "
    "Ingrid Lars Freya Niamh Declan Siobhan Kwame Amara Chidi Zainab Tariq Leila Rafael Gabriela Ana "
    "Tomás Elena Nikolai Katya Jonah Ruth Caleb Grace Isaac Hazel Miles Iris Felix Ruby Hugo Stella "
    "Jasper Violet Ezra Clara".split()
)
_LAST_NAMES = tuple(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez "
    "Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark "
    "Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams "
    "Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Patel Shah Kim Park Chen Wang Tanaka Sato "
    "O'Brien Murphy Kelly Okafor Mensah Haddad Khan Ali Rossi Bianchi Müller Schmidt Larsen Johansson "
    "Novak Kowalski Dubois Moreau Silva Santos Costa Ivanova Cohen Levi Friedman Bennett Hughes Price "
    "Brooks".split()
)
_EMAIL_DOMAINS = ("example.com", "example.org", "example.net")

_US_CITIES = (
    ("Portland", "OR", "972"),
    ("Seattle", "WA", "981"),
    ("San Francisco", "CA", "941"),
    ("Oakland", "CA", "946"),
    ("Los Angeles", "CA", "900"),
    ("San Diego", "CA", "921"),
    ("Denver", "CO", "802"),
    ("Austin", "TX", "787"),
    ("Houston", "TX", "770"),
    ("Chicago", "IL", "606"),
    ("Minneapolis", "MN", "554"),
    ("Madison", "WI", "537"),
    ("Brooklyn", "NY", "112"),
    ("New York", "NY", "100"),
    ("Boston", "MA", "021"),
    ("Philadelphia", "PA", "191"),
    ("Pittsburgh", "PA", "152"),
    ("Washington", "DC", "200"),
    ("Atlanta", "GA", "303"),
    ("Nashville", "TN", "372"),
    ("Raleigh", "NC", "276"),
    ("Miami", "FL", "331"),
    ("Columbus", "OH", "432"),
    ("Detroit", "MI", "482"),
    ("Salt Lake City", "UT", "841"),
    ("Phoenix", "AZ", "850"),
    ("Kansas City", "MO", "641"),
    ("New Orleans", "LA", "701"),
)
_INTERNATIONAL_CITIES = (
    ("Toronto", "ON", "CA"),
    ("Vancouver", "BC", "CA"),
    ("Montreal", "QC", "CA"),
    ("London", "", "GB"),
    ("Manchester", "", "GB"),
    ("Edinburgh", "", "GB"),
    ("Sydney", "NSW", "AU"),
    ("Melbourne", "VIC", "AU"),
)
_STREETS = (
    "Maple Ave",
    "Oak St",
    "Pine St",
    "Cedar Ln",
    "Elm St",
    "Willow Way",
    "Lakeview Dr",
    "Park Ave",
    "Highland Rd",
    "Washington St",
    "Lincoln Ave",
    "Jefferson St",
    "Sunset Blvd",
    "River Rd",
    "Hillcrest Dr",
    "Chestnut St",
    "Walnut St",
    "Spruce St",
    "Magnolia Ave",
    "Harbor Way",
    "Mill St",
    "Church St",
    "Prospect Ave",
    "Union St",
)
_UK_STREETS = ("High Street", "Station Road", "Church Lane", "Victoria Road", "Mill Lane", "Park Road")


CustomerKind = Literal["vip", "wholesale", "regular", "dormant"]


@dataclass
class _CustomerPlan:
    email: str
    name: str
    kind: CustomerKind
    """`vip`, `wholesale`, `regular` or `dormant` (never ordered)."""
    addresses: list[dict[str, str]] = field(default_factory=list)


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower().replace("'", "")


def _address(rng: random.Random, name: str, international: bool) -> dict[str, str]:
    if not international:
        city, state, zip_prefix = rng.choice(_US_CITIES)
        line1 = f"{rng.randint(12, 9899)} {rng.choice(_STREETS)}"
        if rng.random() < 0.3:
            line1 += f", Apt {rng.randint(1, 24)}{rng.choice('ABCD')}"
        return {
            "name": name,
            "line1": line1,
            "city": city,
            "region": state,
            "postcode": f"{zip_prefix}{rng.randint(1, 99):02d}",
            "country": "US",
        }
    city, region, country = rng.choice(_INTERNATIONAL_CITIES)
    letters = "ABCEGHJKLMNPRSTVXY"
    if country == "CA":
        first = {"Toronto": "M", "Vancouver": "V", "Montreal": "H"}[city]
        postcode = f"{first}{rng.randint(1, 9)}{rng.choice(letters)} {rng.randint(1, 9)}{rng.choice(letters)}{rng.randint(1, 9)}"
        line1 = f"{rng.randint(10, 2400)} {rng.choice(('King St W', 'Queen St E', 'Rue Saint-Denis', 'Main St', 'Granville St'))}"
    elif country == "GB":
        area = {"London": "SE", "Manchester": "M", "Edinburgh": "EH"}[city]
        postcode = f"{area}{rng.randint(1, 20)} {rng.randint(1, 9)}{rng.choice(letters)}{rng.choice(letters)}"
        line1 = f"{rng.randint(1, 240)} {rng.choice(_UK_STREETS)}"
    else:
        postcode = {"Sydney": "2", "Melbourne": "3"}[city] + f"{rng.randint(0, 199):03d}"
        line1 = f"{rng.randint(1, 400)} {rng.choice(('George St', 'Collins St', 'Smith St', 'Oxford St'))}"
    return {"name": name, "line1": line1, "city": city, "region": region, "postcode": postcode, "country": country}


def _phone(rng: random.Random, country: str, taken: set[str]) -> str:
    while True:
        if country == "GB":
            phone = f"+447700900{rng.randint(0, 999):03d}"
        elif country == "AU":
            phone = f"+61491570{rng.randint(0, 999):03d}"
        else:
            phone = f"+1555{rng.randint(0, 9_999_999):07d}"
        if phone not in taken:
            taken.add(phone)
            return phone


_NOTE_AUTHORS = ("Maya R. (Customer Care)", "Daniel K. (Customer Care)", "Priya S. (Customer Care Lead)")
_NOTES = (
    "Prefers WhatsApp over email for order updates.",
    "Usually takes M in tops and a 32 waist in jeans.",
    "Asked us not to include printed receipts in parcels; most orders are gifts.",
    "Reported a parcel left at the wrong door; carrier investigation opened and replacement sent.",
    "Sensitive to wool; recommend cotton, linen or Tencel alternatives.",
    "Issued a $10 goodwill credit after a delayed delivery.",
    "Wants a heads-up when the Chelsea Boot is restocked in EU 42.",
    "Moved recently; double-check the shipping address before dispatch.",
)


def _build_customers(rng: random.Random, anchor: datetime) -> tuple[list[dict[str, Any]], list[_CustomerPlan]]:
    customers: list[dict[str, Any]] = []
    plans: list[_CustomerPlan] = []
    emails: set[str] = set()
    phones: set[str] = set()
    for i in range(CUSTOMER_COUNT):
        first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
        name = f"{first} {last}"
        given, family = _ascii(first), _ascii(last)
        local = rng.choice(
            (f"{given}.{family}", f"{given}{family}", f"{given[0]}{family}", f"{given}_{family}", f"{family}.{given}")
        )
        domain = rng.choices(_EMAIL_DOMAINS, weights=(6, 2, 2))[0]
        email = f"{local}@{domain}"
        while email in emails:
            email = f"{local}{rng.randint(2, 99)}@{domain}"
        emails.add(email)
        # Fixed numbers of VIP and wholesale accounts keep the order skew alike for every seed.
        kind = "vip" if i < 20 else "wholesale" if i < 28 else "dormant" if rng.random() < 0.10 else "regular"
        international = kind != "wholesale" and rng.random() < 0.07
        plan = _CustomerPlan(email, name, kind, [_address(rng, name, international)])
        if rng.random() < (0.6 if kind == "vip" else 0.12):
            plan.addresses.append(_address(rng, name, international))
        marketing = rng.random() < (0.8 if kind == "vip" else 0.45)
        whatsapp = rng.random() < (0.5 if kind == "vip" else 0.2)
        tags = [kind] if kind in ("vip", "wholesale") else []
        if marketing:
            tags.append("newsletter")
        if whatsapp:
            tags.append("whatsapp")
        notes: list[dict[str, str]] = []
        if rng.random() < (0.5 if kind in ("vip", "wholesale") else 0.04):
            for _ in range(rng.randint(1, 2)):
                at = anchor - timedelta(minutes=rng.randint(60, HISTORY_DAYS * 24 * 60))
                notes.append({"at": at.isoformat(), "author": rng.choice(_NOTE_AUTHORS), "text": rng.choice(_NOTES)})
            notes.sort(key=lambda n: n["at"])
        customers.append(
            {
                "email": email,
                "phone": _phone(rng, plan.addresses[0]["country"], phones),
                "name": name,
                "tags": tags,
                "marketing_opt_in": marketing,
                "whatsapp_opt_in": whatsapp,
                "notes": notes,
            }
        )
        plans.append(plan)
    return customers, plans


# --- orders ----------------------------------------------------------------------------------------

_IN_FLIGHT_QUOTAS: dict[OrderStatus, int] = {
    OrderStatus.PENDING_PAYMENT: 5,
    OrderStatus.PAID: 7,
    OrderStatus.PROCESSING: 12,
    OrderStatus.SHIPPED: 28,
    OrderStatus.OUT_FOR_DELIVERY: 7,
    OrderStatus.RETURN_REQUESTED: 14,
    OrderStatus.RETURNED: 9,
}
"""Orders still moving through the lifecycle, sized to the shop's recent daily volume."""

_SETTLED_WEIGHTS: dict[OrderStatus, float] = {
    OrderStatus.DELIVERED: 0.885,
    OrderStatus.CANCELLED: 0.045,
    OrderStatus.REFUNDED: 0.07,
}


def _add_business_days(day: date, n: int) -> date:
    while n > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


def _history_age(rng: random.Random, low_days: float, high_days: float) -> float:
    """Draw an order's age in days; a growing shop sells more recently than a year ago."""
    u = rng.random()
    share = u if rng.random() < 0.6 else 1 - (1 - u) ** 0.5
    return low_days + (high_days - low_days) * share


def _tracking_number(rng: random.Random, carrier: Carrier) -> str:
    match carrier:
        case Carrier.USPS:
            return "9400" + "".join(rng.choice("0123456789") for _ in range(18))
        case Carrier.UPS:
            return "1Z4F8E21" + rng.choice(("03", "01", "02")) + "".join(rng.choice("0123456789") for _ in range(8))
        case Carrier.FEDEX:
            return "".join(rng.choice("0123456789") for _ in range(12))
        case Carrier.DHL:
            return "".join(rng.choice("0123456789") for _ in range(10))


def _order_counts(rng: random.Random, plans: list[_CustomerPlan]) -> list[int]:
    counts = [0] * len(plans)
    weights = [0.0] * len(plans)
    for i, plan in enumerate(plans):
        if plan.kind == "vip":
            counts[i] = rng.randint(16, 42)
        elif plan.kind == "wholesale":
            counts[i] = rng.randint(4, 12)
        elif plan.kind == "regular":
            counts[i] = 1
            weights[i] = min(rng.paretovariate(1.8) - 1, 4.0)
    remaining = ORDER_COUNT - sum(counts)
    for i in rng.choices(range(len(plans)), weights=weights, k=remaining):
        counts[i] += 1
    return counts


def _pick_items(
    rng: random.Random,
    products: list[dict[str, Any]],
    weights: list[float],
    wholesale: bool,
) -> list[dict[str, Any]]:
    n_lines = rng.choices((1, 2, 3, 4), weights=(55, 28, 12, 5))[0]
    items: list[dict[str, Any]] = []
    seen: set[tuple[str, str | None, str | None]] = set()
    for product in rng.choices(products, weights=weights, k=n_lines):
        attrs = product["attributes"]
        size = rng.choice(attrs["sizes"]) if attrs["sizes"] != list(ONE_SIZE) else None
        colour = rng.choice(attrs["colours"])
        key = (product["sku"], size, colour)
        if key in seen:
            continue
        seen.add(key)
        quantity = rng.randint(6, 24) if wholesale else rng.choices((1, 2, 3), weights=(86, 11, 3))[0]
        item: dict[str, Any] = {
            "sku": product["sku"],
            "title": product["title"],
            "quantity": quantity,
            "unit_price": str(product["price"]),
        }
        if size is not None:
            item["size"] = size
        item["colour"] = colour
        items.append(item)
    return items


def _lifecycle(
    rng: random.Random, status: OrderStatus, method: ShippingMethod, now: datetime
) -> tuple[datetime, datetime, datetime | None]:
    """Return placed_at, updated_at and (when it left the warehouse) shipped_at for one order."""
    day = 86400.0
    fast, slow = SHIPPING_RATES[method].transit_days
    transit = rng.uniform(fast, slow) * 1.4 * day  # business days, stretched over weekends
    dispatch = rng.uniform(0.1, 1.2) * day
    match status:
        case OrderStatus.PENDING_PAYMENT:
            age = rng.uniform(0.05, PENDING_PAYMENT_EXPIRY_HOURS - 2) * 3600
            updated = shipped = None
        case OrderStatus.PAID:
            age = rng.uniform(0.1, 20) * 3600
            updated, shipped = rng.uniform(60, 300), None
        case OrderStatus.PROCESSING:
            age = rng.uniform(3, 60) * 3600
            updated, shipped = rng.uniform(0.5, 1.0) * min(age, day), None
        case OrderStatus.SHIPPED:
            age = rng.uniform(1.5, min(13, 1.5 + slow * 1.4)) * day
            shipped = min(dispatch, age - 0.2 * day)
            updated = shipped
        case OrderStatus.OUT_FOR_DELIVERY:
            age = rng.uniform(2.5, min(13, 2.5 + slow * 1.4)) * day
            shipped = min(dispatch, age - 1.5 * day)
            updated = age - rng.uniform(0.5, 8) * 3600
        case OrderStatus.CANCELLED:
            age = _history_age(rng, 0.1, HISTORY_DAYS) * day
            updated, shipped = min(rng.uniform(600, 0.8 * day), age), None
        case OrderStatus.RETURN_REQUESTED:
            # Requested within the last 10 days, and within the return window after delivery.
            age = rng.uniform(8, RETURN_WINDOW_DAYS) * day
            shipped = dispatch
            delivered = min(dispatch + transit, age - 1 * day)
            updated = age - rng.uniform(0.1, min(10, (age - delivered) / day - 0.5)) * day
        case OrderStatus.RETURNED:
            # Received at the warehouse within the last few days: the refund is due within 5 business days.
            age = rng.uniform(14, 42) * day
            shipped = dispatch
            updated = age - rng.uniform(0.2, 4) * day
        case OrderStatus.REFUNDED:
            age = _history_age(rng, 16, HISTORY_DAYS) * day
            shipped = dispatch
            updated = min(dispatch + transit + rng.uniform(7, 30) * day, age - rng.uniform(0.05, 3) * day)
        case _:  # delivered
            age = _history_age(rng, 1.5 + slow * 1.4, HISTORY_DAYS) * day
            shipped = min(dispatch, age * 0.3)
            updated = min(dispatch + transit, age - 0.05 * day)
    placed = now - timedelta(seconds=round(age))
    updated_at = placed if updated is None else min(placed + timedelta(seconds=round(updated)), now)
    shipped_at = None if shipped is None else placed + timedelta(seconds=round(shipped))
    return placed, updated_at, shipped_at


def _eta(
    status: OrderStatus, method: ShippingMethod, placed: datetime, shipped: datetime | None, now: datetime
) -> date | None:
    if status not in IN_TRANSIT_STATUSES:
        return None
    today = now.date()
    if status is OrderStatus.OUT_FOR_DELIVERY:
        return today
    slow = SHIPPING_RATES[method].transit_days[1]
    eta = _add_business_days(shipped.date(), slow) if shipped else _add_business_days(placed.date(), 1 + slow)
    return max(eta, _add_business_days(today, 1))


def _build_orders(
    rng: random.Random, anchor: datetime, products: list[dict[str, Any]], plans: list[_CustomerPlan]
) -> list[dict[str, Any]]:
    slots = [plan for plan, n in zip(plans, _order_counts(rng, plans), strict=True) for _ in range(n)]
    rng.shuffle(slots)
    statuses = [status for status, n in _IN_FLIGHT_QUOTAS.items() for _ in range(n)]
    statuses += rng.choices(
        list(_SETTLED_WEIGHTS), weights=list(_SETTLED_WEIGHTS.values()), k=len(slots) - len(statuses)
    )
    rng.shuffle(statuses)

    popularity = [3.0 if "bestseller" in p["tags"] else 1.0 for p in products]
    weights_old = [0.0 if "new" in p["tags"] else w for p, w in zip(products, popularity, strict=True)]
    weights_recent = [0.0 if p["stock"] == 0 else w for p, w in zip(products, popularity, strict=True)]

    drafts: list[dict[str, Any]] = []
    tracking_numbers: set[str] = set()
    for plan, status in zip(slots, statuses, strict=True):
        address = dict(rng.choice(plan.addresses))
        if plan.kind != "wholesale" and rng.random() < 0.05:
            address["name"] = f"{rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_NAMES)}"
        if address["country"] != "US":
            method = ShippingMethod.INTERNATIONAL
        else:
            method = (
                ShippingMethod.EXPRESS
                if rng.random() < (0.35 if plan.kind == "vip" else 0.12)
                else ShippingMethod.STANDARD
            )
        placed, updated, shipped = _lifecycle(rng, status, method, anchor)
        age_days = (anchor - placed).total_seconds() / 86400
        weights = weights_recent if age_days < 14 else popularity if age_days < NEW_PRODUCT_DAYS else weights_old
        items = _pick_items(rng, products, weights, plan.kind == "wholesale")
        subtotal = _money(sum((Decimal(i["unit_price"]) * i["quantity"] for i in items), Decimal(0)))
        rate = SHIPPING_RATES[method]
        shipping = rate.fee_for(subtotal)
        carrier = tracking = None
        if status in SHIPPED_STATUSES:
            # USPS carries most standard parcels; other methods have a single carrier.
            carrier = rate.carriers[0] if len(rate.carriers) == 1 or rng.random() < 0.6 else rate.carriers[1]
            tracking = _tracking_number(rng, carrier)
            while tracking in tracking_numbers:
                tracking = _tracking_number(rng, carrier)
            tracking_numbers.add(tracking)
        drafts.append(
            {
                "customer_email": plan.email,
                "status": status,
                "items": items,
                "subtotal": subtotal,
                "shipping": shipping,
                "total": subtotal + shipping,
                "currency": CURRENCY,
                "shipping_address": address,
                "carrier": None if carrier is None else str(carrier),
                "tracking_number": tracking,
                "eta": _eta(status, method, placed, shipped, anchor),
                "placed_at": placed,
                "updated_at": updated,
                # a delivered order's last change was its delivery: the return window counts from it
                "delivered_at": updated if status is OrderStatus.DELIVERED else None,
            }
        )
    drafts.sort(key=lambda o: (o["placed_at"], o["customer_email"]))
    return [{"number": format_order_number(FIRST_ORDER_NUMBER + i), **o} for i, o in enumerate(drafts)]


# --- policies --------------------------------------------------------------------------------------


def _usd(amount: Decimal) -> str:
    return format_money(amount, "USD", style="grouped")


def _build_policies() -> list[dict[str, str]]:
    std, exp, intl = (SHIPPING_RATES[m] for m in ShippingMethod)
    us_sizes = "; ".join(f"EU {eu} = US {us}" for eu, us in SHOE_SIZE_US.items())
    docs: list[tuple[str, PolicyTopic, str, str]] = [
        (
            "shipping-delivery",
            PolicyTopic.SHIPPING_DELIVERY,
            "Shipping and delivery in the US",
            f"We ship every order from our warehouse in Portland, Oregon. Orders paid before 1 pm Pacific time on a "
            f"business day usually leave the same day; everything else leaves within 1 business day. Standard shipping "
            f"costs {_usd(std.fee)} and takes {std.transit_days[0]}–{std.transit_days[1]} business days with USPS or UPS. "
            f"Standard shipping is free on orders with a subtotal of {_usd(FREE_SHIPPING_THRESHOLD)} or more; the "
            f"threshold is checked against the items only, before shipping. Express shipping costs {_usd(exp.fee)} on "
            f"every order and takes {exp.transit_days[0]}–{exp.transit_days[1]} business days with FedEx. We can deliver to "
            f"PO boxes with standard shipping, in which case USPS carries the parcel. Business days are Monday to Friday, "
            f"excluding US public holidays. As soon as your parcel leaves the warehouse we email you the carrier and the "
            f"tracking number, and your order status changes to Shipped.",
        ),
        (
            "international-shipping",
            PolicyTopic.SHIPPING_DELIVERY,
            "International shipping",
            f"Outside the US we ship to Canada, the United Kingdom and Australia, always with DHL Express. International "
            f"shipping is a flat {_usd(intl.fee)} per order and free on orders with a subtotal of "
            f"{_usd(INTERNATIONAL_FREE_SHIPPING_THRESHOLD)} or more. Delivery takes {intl.transit_days[0]}–"
            f"{intl.transit_days[1]} business days after dispatch. Prices and charges are in US dollars, so your bank may "
            f"add a currency conversion fee. Import duties and taxes are not included in your order total: DHL may collect "
            f"them on delivery, and we cannot refund them if a parcel is refused. Express upgrades are not available "
            f"outside the US. International orders can be returned within the same {RETURN_WINDOW_DAYS} days, but return "
            f"postage is at your own cost and we recommend a tracked service.",
        ),
        (
            "order-tracking",
            PolicyTopic.SHIPPING_DELIVERY,
            "Tracking an order and late deliveries",
            "Every order moves through these statuses: Pending payment, Paid, Processing (being picked and packed), "
            "Shipped, Out for delivery and Delivered. Once an order has shipped you can follow it with the tracking number "
            "in your shipping email, in your account, or by asking our assistant with your order number and the email or "
            "phone number on the order. If tracking shows no movement for 5 business days (10 for international orders), "
            "or your parcel is more than 3 business days past its estimated delivery date, contact us and we will open an "
            "investigation with the carrier. If the parcel is not found within 7 business days, we send a replacement by "
            "express shipping or refund you in full, whichever you prefer. If tracking says delivered but you cannot find "
            "it, check with neighbours and your building's mailroom, wait 48 hours, then contact us.",
        ),
        (
            "returns-refunds",
            PolicyTopic.RETURNS_REFUNDS,
            "Returns and refunds",
            f"You can return unworn, unwashed items with their tags attached within {RETURN_WINDOW_DAYS} days of "
            f"delivery. Start a return in your account or ask our assistant, with your order number and the email on the "
            f"order. US returns use a prepaid USPS label; {_usd(RETURN_LABEL_FEE)} is deducted from your refund, unless you "
            f"exchange instead, in which case the label is free. Socks and items marked Final Sale cannot be returned for "
            f"hygiene reasons unless they are faulty. When your parcel reaches our warehouse we inspect it and issue the "
            f"refund within {REFUND_BUSINESS_DAYS} business days to the original payment method; banks usually take a "
            f"further 3–5 business days to show it. Original shipping charges are refunded only when an item was faulty or "
            f"we sent the wrong one. Your order shows Return requested once you start a return, Returned when we receive "
            f"it, and Refunded when the money is on its way.",
        ),
        (
            "exchanges",
            PolicyTopic.RETURNS_REFUNDS,
            "Exchanges and size swaps",
            f"Need a different size or colour? Exchanges are free for US orders within {RETURN_WINDOW_DAYS} days of "
            f"delivery. Start the exchange in your account or with our assistant and we email you a prepaid label. We ship "
            f"the replacement by standard shipping at no charge as soon as the carrier scans your return, so you do not "
            f"have to wait for it to reach us. Exchanges depend on stock: if the size or colour you want is sold out, we "
            f"refund the item instead and let you know by email. You can exchange each item once. International orders "
            f"cannot be exchanged; return the item for a refund and place a new order.",
        ),
        (
            "damaged-faulty-wrong-items",
            PolicyTopic.RETURNS_REFUNDS,
            "Damaged, faulty or wrong items",
            "If an item arrives damaged or faulty, or is not what you ordered, tell us within 14 days of delivery and "
            "include a photo of the item and its label. We send a replacement by express shipping free of charge, or refund "
            "you in full including the original shipping, whichever you prefer. You do not need to send back a damaged item "
            "worth less than $25.00. Faults that appear within 12 months through normal wear, such as a failed zip or a "
            "split seam, are covered by our one-year quality guarantee: we repair, replace or refund the item.",
        ),
        (
            "cancellations-order-changes",
            PolicyTopic.CANCELLATIONS_ORDER_CHANGES,
            "Cancelling or changing an order",
            f"You can cancel an order, or change its sizes, colours or delivery address, while its status is Pending "
            f"payment or Paid. Paid orders usually move to Processing within 24 hours on business days; from then on the "
            f"order is being packed and can no longer be cancelled or changed, but you can return it once it arrives. "
            f"Cancelled orders are refunded in full to the original payment method within 2 business days. Orders left in "
            f"Pending payment for {PENDING_PAYMENT_EXPIRY_HOURS} hours are cancelled automatically and nothing is charged. "
            f"Once an order has shipped, UPS and FedEx parcels can sometimes be redirected to a new address through the "
            f"carrier's own website; USPS and DHL parcels cannot. To cancel or change an order, ask our assistant with your "
            f"order number and the email or phone number on the order.",
        ),
        (
            "payment-methods",
            PolicyTopic.PAYMENT,
            "Payment methods and when you are charged",
            f"We accept Visa, Mastercard, American Express, Discover, PayPal, Apple Pay and Google Pay. All prices are in "
            f"US dollars and include any applicable sales tax, so the total at checkout is the total you pay. Your payment "
            f"is taken when you place the order, and the order status changes to Paid once it clears. US customers can "
            f"also pay in four interest-free instalments with Klarna, one every two weeks, on orders between $50.00 and "
            f"$1,000.00. If a payment fails, the order stays in Pending payment for {PENDING_PAYMENT_EXPIRY_HOURS} hours so "
            f"you can retry from the link in your email; after that it is cancelled. We never see or store your full card "
            f"number: payments are handled by a PCI DSS Level 1 certified provider. We do not accept cash on delivery, "
            f"cheques or cryptocurrency.",
        ),
        (
            "gift-cards-discount-codes",
            PolicyTopic.PAYMENT,
            "Gift cards and discount codes",
            "Digital gift cards are available from $25.00 to $500.00, are delivered by email on the date you choose, and "
            "never expire. You can spend a gift card across several orders and combine it with a card or PayPal for the "
            "rest. One discount code can be used per order, together with a gift card if you like; codes cannot be used to "
            "buy gift cards and cannot be added after an order is placed. If you lose a gift card email, contact us with "
            "the purchaser's name and we will resend it. Gift cards cannot be exchanged for cash.",
        ),
        (
            "account",
            PolicyTopic.ACCOUNT,
            "Your account, password and personal data",
            "You can check out as a guest or with an account. An account shows your order history, tracking, returns, "
            "saved addresses and invoices, and any guest orders placed with the same email are added to it automatically. "
            "To reset your password, use Forgot password on the sign-in page; the reset link is valid for 60 minutes. To "
            "change the email address on your account, sign in and update it under Profile, then confirm the change from "
            "the new inbox. You can ask us for a copy of your personal data, or for your account to be deleted: we verify "
            "your identity first and complete the request within 30 days. Order and invoice records are kept for 7 years "
            "because tax law requires it; everything else is erased.",
        ),
        (
            "invoices-receipts",
            PolicyTopic.INVOICE,
            "Invoices and receipts",
            "An itemised receipt is emailed as soon as your order is paid. A PDF invoice is available in your account "
            "under Orders once the order ships, and our assistant can resend it to the email address on the order. "
            "Invoices list each item with its quantity and unit price, the shipping charge and the total in US dollars. "
            "We can add a company name, billing address or tax ID to an invoice within 60 days of the order date; we "
            "cannot change the items, prices or the name of the person who placed the order. Wholesale customers also "
            "receive a consolidated statement on the first business day of each month. To save paper we do not put "
            "printed invoices in parcels unless you ask.",
        ),
        (
            "newsletter-email-marketing",
            PolicyTopic.MARKETING_OPT_IN,
            "Newsletter: subscribing and unsubscribing",
            "Our newsletter goes out at most twice a week with new arrivals, restocks and early access to sales. You can "
            "subscribe at checkout, in your account or by asking our assistant. New subscribers receive a 10% welcome code, "
            "valid for 30 days on a first order of $50.00 or more. You can unsubscribe at any time with the link at the "
            "bottom of every newsletter, under Communication preferences in your account, or by asking our assistant; the "
            "change takes effect within 24 hours. Unsubscribing does not stop service emails such as order confirmations, "
            "shipping updates and receipts. We never sell or share your email address.",
        ),
        (
            "whatsapp-messages",
            PolicyTopic.MARKETING_OPT_IN,
            "WhatsApp messages: opting in and out",
            f"You can chat with our assistant on WhatsApp at {WHATSAPP_NUMBER} at any time about orders, returns and "
            f"products. Marketing messages on WhatsApp are separate and only sent if you opt in, at checkout, in your "
            f"account or by sending START to {WHATSAPP_NUMBER}. Opted-in customers get at most 4 marketing messages a "
            f"month, about new collections, restocks and private sales. Reply STOP at any time to stop marketing messages; "
            f"it takes effect immediately and we confirm with one final message. Order updates such as shipped and out for "
            f"delivery are service messages and are not affected by STOP. Your mobile provider's standard messaging rates "
            f"may apply.",
        ),
        (
            "contact-a-person",
            PolicyTopic.CONTACT_HUMAN,
            "Talking to a person",
            f"Our assistant answers around the clock. If you would rather talk to a person, ask the assistant for a human "
            f"at any point and it hands the conversation, with its history, to our customer care team, so you do not have "
            f"to repeat yourself. The team works Monday to Friday 9 am–6 pm Eastern time and Saturday 10 am–4 pm Eastern "
            f"time, and is closed on Sundays and US public holidays. During those hours chat replies usually arrive within "
            f"5 minutes. Outside them your conversation waits in the queue and is answered the next morning. You can also "
            f"email {SUPPORT_EMAIL}, answered within 1 business day, or call {SUPPORT_PHONE} during opening hours. Have "
            f"your order number, for example A-10234, and the email on the order to hand.",
        ),
        (
            "size-fit-guide",
            PolicyTopic.SIZING,
            "Size and fit guide",
            f"Tops, knitwear, dresses and jackets come in XS to XXL and are true to size; boxy and oversized styles are cut "
            f"roomy on purpose, so size down for a closer fit. Jeans and trousers are sized by waist in inches, from 26 to "
            f"38, and all have a {INSEAM_INCHES}-inch inseam. Footwear comes in EU sizes 36 to 46: {us_sizes}. If you are "
            f"between shoe sizes, take the larger one. Each product page lists the available sizes, and our assistant can "
            f"recommend a size if you share what you wear in another brand.",
        ),
    ]
    return [{"slug": slug, "topic": str(topic), "title": title, "body": body} for slug, topic, title, body in docs]


# --- brand and entry point -------------------------------------------------------------------------

_BRAND: dict[str, Any] = {
    "primary_colour": "#1F3B33",
    "accent_colour": "#D08A3C",
    "logo_path": "brand/logo.png",
    "tone": (
        "Warm, plain-spoken and concise, like a knowledgeable friend in the shop: short sentences, no hype, no "
        "exclamation marks, and always the concrete next step."
    ),
    "voice_examples": [
        "Good news: order A-10234 left our Portland warehouse this morning with UPS and should reach you by Thursday.",
        "That tee runs true to size. If you like a looser fit, go one size up.",
        "I can't change the address once an order is packed, but I can pass this to the team to ask the carrier.",
        "Happy to help with a return. It's free to exchange, and a refund costs $4.95 for the label.",
    ],
}


def build_demo_shop(anchor: datetime, seed: int = 7) -> DemoShop:
    """Build the whole demo shop as it stands at `anchor`, identically for the same anchor and seed."""
    if anchor.tzinfo is None:
        raise ValueError(f"anchor {anchor!r} is naive: pass an aware UTC datetime")
    now = anchor.astimezone(UTC).replace(microsecond=0)
    rng = random.Random(seed)
    products = _build_products(rng)
    customers, plans = _build_customers(rng, now)
    orders = _build_orders(rng, now, products, plans)
    return DemoShop(
        shop_name=SHOP_NAME,
        shop_slug=SHOP_SLUG,
        brand={**_BRAND, "voice_examples": list(_BRAND["voice_examples"])},
        products=products,
        customers=customers,
        orders=orders,
        policies=_build_policies(),
    )
