"""Tenants, API keys, operators and the tenant-scoped repository layer."""
