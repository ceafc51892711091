"""The HTTP surface: one FastAPI app, its middleware, auth and routes."""
