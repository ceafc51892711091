"""Demo data for a realistic shop."""
