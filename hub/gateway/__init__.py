"""The one door to a model: transport, retries, breaker, guards, validation, fallback, billing."""
