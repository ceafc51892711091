"""Name the Shopify sync's job, headers, topics and idempotency source, in one place."""

from enum import StrEnum

WEBHOOK_TASK = "shopify_webhook"
"""The job that applies one verified webhook: its topic and raw body."""
WEBHOOK_SOURCE = "shopify"
"""`processed_webhook_events.source`; keys are `<tenant id>:<X-Shopify-Webhook-Id>`."""
HMAC_HEADER = "X-Shopify-Hmac-Sha256"
TOPIC_HEADER = "X-Shopify-Topic"
WEBHOOK_ID_HEADER = "X-Shopify-Webhook-Id"
PRODUCT_ID = "shopify_product_id"
"""The product's `attributes` key for Shopify's product id (how `products/delete` finds it)."""
VARIANT_ID = "shopify_variant_id"
INVENTORY_ITEM_ID = "shopify_inventory_item_id"
"""The variant's `attributes` key for Shopify's inventory item id (how `inventory_levels/update` finds it)."""


class Topic(StrEnum):
    """The webhook topics HUB applies; Shopify's others are answered 200 and ignored."""

    PRODUCTS_CREATE = "products/create"
    PRODUCTS_UPDATE = "products/update"
    PRODUCTS_DELETE = "products/delete"
    ORDERS_CREATE = "orders/create"
    ORDERS_UPDATED = "orders/updated"
    ORDERS_FULFILLED = "orders/fulfilled"
    ORDERS_CANCELLED = "orders/cancelled"
    INVENTORY_LEVELS_UPDATE = "inventory_levels/update"
