"""The WhatsApp Cloud API channel: signed webhooks in, turns in a job worker, tracked sends out.

Add the webhook to the app with `install(app)`; `hub.jobs.GENERAL` names `chat_ui.whatsapp.worker:register_jobs`
for the worker.
"""

from chat_ui.whatsapp.webhook import install

__all__ = ["install"]
