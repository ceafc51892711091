"""The WhatsApp Cloud API channel: signed webhooks in, turns in a job worker, tracked sends out.

Include `router` in the app; `hub.jobs.JOB_TASKS` names `chat_ui.whatsapp.worker:register_jobs` for the worker.
"""

from chat_ui.whatsapp.webhook import router

__all__ = ["router"]
