"""The operator console: Chainlit mounted at `/console` inside the one FastAPI app.

`mount(app, settings)` points Chainlit at a working folder under the data dir (Chainlit writes its config
and uploads there, never into the source tree), derives its session-signing secret from `HUB_SECRET_KEY`,
and loads `chainlit_app.py`. Chainlit's callbacks reach the running app's resources through `STATE`,
which the app's lifespan fills. Threads are stored in the app's own database through Chainlit's SQLAlchemy
data layer (tables in `hub.db.models`), so an operator finds them again after a restart.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import redis.asyncio as aioredis
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from graphs.turns import Conversations
from hub.jobs import JobQueue
from hub.prompting.registry import PromptRegistry
from hub.settings import Settings

PATH = "/console"
HERE = Path(__file__).resolve().parent


@dataclass
class ConsoleState:
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    redis: aioredis.Redis
    """Where job progress arrives (`hub.jobs.events_channel`), pushed into the operator's open console."""
    jobs: JobQueue
    conversations: Conversations
    prompts: PromptRegistry


class _Holder:
    current: ConsoleState | None = None


STATE = _Holder()


def state() -> ConsoleState:
    if STATE.current is None:
        raise RuntimeError("the console is not bound to a running app")
    return STATE.current


def mount(app: FastAPI, settings: Settings) -> None:
    """Mount Chainlit at /console; call once per app, before it starts."""
    root = settings.data_dir / "console"
    (root / ".chainlit").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(HERE / "config.toml", root / ".chainlit" / "config.toml")
    # Chainlit reads its app root (where it keeps config, uploads and the files of shown images) when it is
    # first imported: set it before that, or those files land in the working directory.
    os.environ["CHAINLIT_APP_ROOT"] = str(root)
    secret = settings.secret_key.get_secret_value().encode()
    os.environ["CHAINLIT_AUTH_SECRET"] = hmac.new(secret, b"hub-console-sessions", hashlib.sha256).hexdigest()
    from chainlit.utils import mount_chainlit

    mount_chainlit(app=app, target=str(HERE / "chainlit_app.py"), path=PATH)


async def close() -> None:
    """Release what the console opened (the data layer's engine); the app's lifespan calls this on stop."""
    from chainlit.data import get_data_layer

    STATE.current = None
    if (layer := get_data_layer()) is not None:
        await layer.close()
