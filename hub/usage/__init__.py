"""Usage ledger aggregates and cost reports."""
