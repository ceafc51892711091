"""Find what answers a shopper's words: products by field-weighted matching, policy passages by BM25."""
