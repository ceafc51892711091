"""Who talks to whom: the customer and operator agents and the deterministic engine."""
