"""chat_ui."""
