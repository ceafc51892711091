"""Versioned prompts: files, lock, pins, rendering, output schemas."""
