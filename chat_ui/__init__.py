"""Every surface a chat arrives on: the storefront chat API (and later the console, widget and WhatsApp)."""
