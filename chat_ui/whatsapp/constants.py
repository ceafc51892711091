"""Name the WhatsApp channel's job, Redis keys and idempotency source, in one place."""

from hub.constants import REDIS_PREFIX

EVENTS_TASK = "whatsapp_events"
"""The job that handles one webhook's events for one customer, in order."""
DELIVER_TASK = "whatsapp_deliver"
"""The job that sends a conversation's pending deliveries (a person's reply from the console)."""
WEBHOOK_SOURCE = "whatsapp"
"""`processed_webhook_events.source`; keys are `<message id>` and `<status id>:<status>`."""
CONVERSATION_LOCK = f"{REDIS_PREFIX}:whatsapp:conversation"
"""`hub:whatsapp:conversation:<tenant>:<wa_id>` → held by the one worker handling that customer's event."""
CONVERSATIONS = "whatsapp_conversations"
"""`JobResources.extra` key of the worker's conversation graph, built on first use (`LazyConversations`)."""
GRAPH_API = "whatsapp_graph_api"
"""`JobResources.extra` key of the worker's Graph API client."""
SIGNATURE_HEADER = "X-Hub-Signature-256"
