"""Typed tools by family (engagement, CRM, SEO, photography), with identity and permissions from context."""
