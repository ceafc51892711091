"""imaging_service."""
