"""Keep a shop in sync with its Shopify store: the webhook secret it signs with, and what each webhook topic changes."""
