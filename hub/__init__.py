"""Service core."""
