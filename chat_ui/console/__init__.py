"""The operator console: Chainlit mounted at `/console` inside the one FastAPI app.

`mount(app, settings)` points Chainlit at a working folder under the data dir (Chainlit writes its config
and uploads there, never into the source tree), dresses it as HUB's (`config.toml`, `public/`, `translations/`),
serves Chainlit's frontend without its links to font and maths CDNs so the page needs nothing but HUB's own
origin, derives its session-signing secret from `HUB_SECRET_KEY`, and loads `chainlit_app.py`. Chainlit's
callbacks reach the running app's resources through `STATE`, which the app's lifespan fills. Threads are stored
in the app's own database through Chainlit's SQLAlchemy data layer (tables in `hub.db.models`), so an operator
finds them again after a restart.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.routing import Mount

from chat_ui.console.signin import SignInThrottle
from graphs.turns import Conversations
from hub.http.clients import origin_of
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
    golden: Callable[[], Mapping[str, str]] = dict
    """Use case → its golden set's sha256 (`evals.cases.golden_hashes`, handed in by the service and read when
    `/status` asks, not at start-up): what an eval run must have been measured on to count as current."""


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
    # Chainlit copies its translations into the app root on first import, logging a line per language, unless
    # they are there: the console brings its own (Chainlit's, with HUB's sign-in text).
    shutil.copytree(HERE / "translations", root / ".chainlit" / "translations", dirs_exist_ok=True)
    # HUB's logo, favicon, sign-in picture and stylesheet (Chainlit serves `public/` and prefers its logos).
    shutil.copytree(HERE / "public", root / "public", dirs_exist_ok=True)
    shutil.copyfile(HERE.parent / "static" / "hub.svg", root / "public" / "favicon.svg")  # the mark HUB's pages use
    # Chainlit reads its app root (where it keeps config, uploads and the files of shown images) when it is
    # first imported: set it before that, or those files land in the working directory.
    os.environ["CHAINLIT_APP_ROOT"] = str(root)
    secret = settings.secret_key.get_secret_value().encode()
    os.environ["CHAINLIT_AUTH_SECRET"] = hmac.new(secret, b"hub-console-sessions", hashlib.sha256).hexdigest()
    logging.getLogger("chainlit").addFilter(_not_about_a_missing_readme)
    import chainlit.config

    # The server picks its frontend (config's `custom_build`) when it is imported, by mount_chainlit below.
    _write_offline_frontend(Path(chainlit.config.BACKEND_ROOT) / "frontend" / "dist", root / "build", root / "public")
    from chainlit.server import app as chainlit_app
    from chainlit.utils import mount_chainlit

    # Chainlit's app is one per process and builds its middleware once it has served a request; mounting it again
    # (another app in the same process, as tests do) adds its middleware, which a built stack refuses: rebuild it.
    # Each mount adds another copy of Chainlit's path middleware: keep only the one this mount adds (dozens nested
    # broke the request body's receive with anyio cancel-scope errors, a 500).
    chainlit_app.middleware_stack = None
    chainlit_app.user_middleware = [
        mw for mw in chainlit_app.user_middleware if getattr(mw.cls, "__name__", "") != "ChainlitMiddleware"
    ]
    mount_chainlit(app=app, target=str(HERE / "chainlit_app.py"), path=PATH)
    _answer_own_origins_only(settings)
    console = next(r for r in app.router.routes if isinstance(r, Mount) and r.path == PATH)
    console.app = SignInThrottle(console.app)


def _answer_own_origins_only(settings: Settings) -> None:
    """Leave the console's CORS to HUB (`hub.http.security`: its own origins only) and let only HUB's own pages open
    the console's socket.

    Chainlit answers CORS for `allow_origins` with credentials, and its config's default `["*"]` echoed any site;
    the config says `[]` now, and Chainlit's CORS middleware is dropped so HUB's answers alone. Its Socket.IO server
    checks no origin at all (`cors_allowed_origins=[]`): a socket is accepted from a page on the host it asks for,
    or on one of `HUB_PUBLIC_ORIGINS` (a reverse proxy that does not pass the Host on). Chainlit's server is one per
    process, so the last app mounted sets the origins.
    """
    from chainlit.server import app as chainlit_app
    from chainlit.server import sio
    from starlette.middleware.cors import CORSMiddleware

    chainlit_app.user_middleware = [mw for mw in chainlit_app.user_middleware if mw.cls is not CORSMiddleware]
    own = frozenset(o for o in (origin_of(origin) for origin in settings.public_origins) if o)

    def same_host_or_own(origin: str | None, environ: dict[str, Any]) -> bool:
        if origin is None:
            return True
        host = str(environ.get("HTTP_HOST", "")).lower()
        return origin_of(origin) in own or (bool(host) and urlsplit(origin).netloc.lower() == host)

    sio.eio.cors_allowed_origins = same_host_or_own


def _not_about_a_missing_readme(record: logging.LogRecord) -> bool:
    """Drop Chainlit's warning that the console has no readme in the operator's language.

    The console shows no readme (Chainlit's `chainlit.md`) in any language; Chainlit would say so on every page
    load after sign-in.
    """
    return not record.getMessage().startswith("Translated markdown file for ")


# Chainlit's index.html links Google Fonts (and preconnects to it) and KaTeX's stylesheet on a CDN; the console
# must work offline and send no operator's browser elsewhere, it draws no maths (`latex = false`) and
# `public/hub.css` sets a system font.
_EXTERNAL_LINK = re.compile(r"<link\b[^>]*\bhref=\"https?://[^\"]*\"[^>]*>\s*")


# Chainlit's page runs a line inline (`const global = globalThis;`) and injects another where this placeholder is;
# HUB's pages run no inline script (`hub.http.security`): the line is moved into a file HUB serves, and the console
# sets nothing for Chainlit to inject (no theme variables, transports or custom script).
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)
_JS_PLACEHOLDER = "<!-- JS INJECTION PLACEHOLDER -->"


def _write_offline_frontend(dist: Path, build: Path, public: Path) -> None:
    """Write Chainlit's frontend into `build` without the links to other origins and the inline scripts in its page
    (each moved to a file in `public`, served at `/public/`)."""
    build.mkdir(exist_ok=True)
    page = _EXTERNAL_LINK.sub("", (dist / "index.html").read_text(encoding="utf-8")).replace(_JS_PLACEHOLDER, "")

    def external(match: re.Match[str]) -> str:
        script = match.group(1).strip() + "\n"
        name = f"page-{hashlib.sha256(script.encode()).hexdigest()[:16]}.js"
        (public / name).write_text(script, encoding="utf-8")
        return f'<script src="/public/{name}"></script>'

    (build / "index.html").write_text(_INLINE_SCRIPT.sub(external, page), encoding="utf-8")
    # The scripts and styles are Chainlit's as installed (tens of MB): linked, not copied. A link made aside and
    # renamed over the old one replaces it in one step, also when another process serving this data dir is
    # starting at the same time, and follows an upgraded or moved Chainlit.
    aside = build / f".assets-{os.getpid()}"
    aside.unlink(missing_ok=True)
    aside.symlink_to(dist / "assets", target_is_directory=True)
    os.replace(aside, build / "assets")


async def close() -> None:
    """Release what the console opened (the data layer's engine); the app's lifespan calls this on stop."""
    from chainlit.data import get_data_layer

    STATE.current = None
    if (layer := get_data_layer()) is not None:
        await layer.close()
