"""Every surface a chat arrives on: the storefront chat API and widget, the operator console, WhatsApp."""
