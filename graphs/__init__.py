"""LangGraph state, graph builders and the checkpointer factory."""
