"""Import a shop's customers and orders from a Shopify export or HUB's CSV / JSON Lines, with the catalog importer's
machinery (`hub.catalog.source`, `hub.catalog.fields`, rejected rows, batched transactions)."""
