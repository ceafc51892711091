"""Import a shop's catalog from a platform export (Shopify, WooCommerce) or a plain CSV / JSON Lines file."""
