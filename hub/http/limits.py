"""Bound what one request may carry: the size of a JSON body, and how deep a listing may page."""

from __future__ import annotations

MAX_JSON_BODY = 64 * 1024
"""Bytes of a JSON body sent to HUB's own API (routers pass it as FastAPI's `max_body_size`). The largest honest body,
a 4,000-character chat message with every character escaped as a surrogate pair (`\\ud83d\\ude00`, 12 bytes), is
48,000 bytes; anything bigger is refused with 413 as it arrives, before it is buffered whole or parsed."""

MAX_OFFSET = 1_000_000
"""The deepest `offset` a listing takes: past any real catalog, and far below the 64-bit integers the databases
take (a larger one overflowed the driver with a 500)."""

NO_NUL = r"^[^\x00]*$"
"""The pattern of a text parameter or field that reaches the database: anything but NUL, which no HUB value holds and
Postgres can neither store nor compare (a SKU of `%00` was a 500)."""

MAX_IMPORT_BODY = 50 * 1024 * 1024
"""Bytes of a catalog file sent to `POST /v1/catalog/import`: a 10,000-product Shopify export with every variant and
image row is about 15 MiB."""

MAX_SYNC_BODY = 8 * 1024 * 1024
"""Bytes of a body sent to the catalog sync API (`/v1/products…`): a bulk of `MAX_BULK_PRODUCTS` products with a dozen
variants and a long description each."""

MAX_BULK_PRODUCTS = 1000
"""Products in one `POST /v1/products/bulk`."""
