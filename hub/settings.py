"""Own the one Settings object: every HUB_* environment variable, validated at startup."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, IPvAnyNetwork, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DEFAULT_SECRET_KEY = "hub-development-secret-change-me"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class LogFormat(StrEnum):
    JSON = "json"
    CONSOLE = "console"


class Settings(BaseSettings):
    """Configuration read from `HUB_*` variables (nested fields use `__`)."""

    model_config = SettingsConfigDict(
        env_prefix="HUB_",
        env_nested_delimiter="__",
        extra="ignore",
        frozen=True,
    )

    env: Environment = Environment.DEVELOPMENT
    data_dir: Path = Field(default=Path(".hub"), description="Embedded database, Redis and media files.")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; unset means a SQLite file in data_dir.")
    redis_url: str | None = Field(
        default=None, description="Redis URL; unset means `hub serve` starts an embedded Redis."
    )
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET_KEY)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Where a `hub worker` process serves its Prometheus metrics (all interfaces); unset → none. "
        "`hub serve` has `GET /metrics` instead.",
    )
    log_level: str | None = Field(
        default=None,
        pattern=r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$",
        description="Unset: INFO for `hub serve` and `hub worker`, WARNING for other commands (`hub -v`: INFO).",
    )
    log_format: LogFormat | None = Field(
        default=None, description="Unset: readable lines when stderr is a terminal, JSON otherwise."
    )
    whatsapp_api_base: str = Field(
        default="https://graph.facebook.com/v21.0", description="WhatsApp Cloud API (Graph API) base URL."
    )
    whatsapp_timeout_s: float = Field(default=10.0, gt=0, description="One Graph API request, connect to last byte.")
    whatsapp_max_attempts: int = Field(default=4, ge=1, le=10, description="Tries per Graph API send on 429/5xx.")
    whatsapp_backoff_s: float = Field(default=0.5, gt=0, description="Wait before the first retry; doubles per try.")
    whatsapp_backoff_max_s: float = Field(
        default=30.0, gt=0, description="Longest wait between two tries; a longer Retry-After defers the send."
    )
    whatsapp_lock_s: float = Field(
        default=300.0, gt=0, description="Longest an event waits for its WhatsApp conversation (one event at a time)."
    )
    whatsapp_lock_lease_s: float = Field(
        default=15.0, gt=0, description="Lease on a conversation, renewed while a worker lives; a dead one's lapses."
    )
    chat_lock_s: float = Field(
        default=60.0,
        gt=0,
        description="Longest a widget message waits for the one before it in its session to be answered; then 409.",
    )
    chat_lock_lease_s: float = Field(
        default=15.0, gt=0, description="Lease on a widget session while a message is answered, renewed as it runs."
    )
    chat_rate_limit_per_minute: int = Field(
        default=600, ge=1, description="Storefront chat messages per API key per minute: a ceiling over its shoppers."
    )
    chat_rate_limit_per_session_per_minute: int = Field(
        default=20, ge=1, description="Chat messages per shopper session (the widget's session id) per minute."
    )
    chat_rate_limit_per_client_per_minute: int = Field(
        default=60, ge=1, description="Chat messages per client address per minute, per shop (IPv6: per /64)."
    )
    trusted_proxies: Annotated[tuple[IPvAnyNetwork, ...], NoDecode] = Field(
        default=(),
        description="Comma-separated IPs or CIDR networks of the reverse proxies in front of `hub serve`: only "
        "their X-Forwarded-For names a chat client's address; unset → the peer's address, the header ignored.",
    )

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_trusted_proxies(cls, value: object) -> object:
        return [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value

    public_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="Comma-separated origins (https://host[:port]) HUB is opened at when a reverse proxy does not "
        "pass the browser's Host on: the console and the API answer cross-origin browsers from these only; unset → "
        "the request's own origin only. The chat API answers each shop's allowed_origins instead.",
    )

    @field_validator("public_origins", mode="before")
    @classmethod
    def _split_public_origins(cls, value: object) -> object:
        return [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value

    @field_validator("public_origins", mode="after")
    @classmethod
    def _only_origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for origin in value:
            parts = urlsplit(origin)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.path.strip("/") or parts.query:
                raise ValueError(f"{origin!r} is not an origin like https://hub.example.com[:port]")
        return value

    signin_max_failures: int = Field(
        default=10,
        ge=1,
        description="Failed console sign-ins for one email before it is locked out (each failure after the third "
        "makes the next try wait longer: 1 s, 2 s, 4 s…).",
    )
    signin_max_failures_per_client: int = Field(
        default=30, ge=1, description="Failed console sign-ins from one client address before it is locked out."
    )
    signin_lockout_s: float = Field(default=900.0, gt=0, description="How long a sign-in lockout lasts.")
    key_max_failures_per_client: int = Field(
        default=20, ge=1, description="Invalid API keys from one client address before it is locked out (429)."
    )
    key_lockout_s: float = Field(default=300.0, gt=0, description="How long an invalid-key lockout lasts.")

    imaging_model: str | None = Field(
        default=None,
        description="diffusers pipeline (local folder or hub id) for generated shots; unset → studio compositor only.",
    )
    imaging_mode: Literal["inpaint", "img2img"] = Field(
        default="inpaint", description="Paint the scene around the product (inpaint) or restyle the whole shot."
    )
    imaging_controlnet: str | None = Field(default=None, description="ControlNet on the product's edges, or unset.")
    imaging_ip_adapter: str | None = Field(default=None, description="IP-Adapter folder (h94 layout), or unset.")
    imaging_steps: int = Field(default=30, ge=1, le=200, description="Denoising steps per generated shot.")
    imaging_device: Literal["auto", "cuda", "cpu"] = "auto"
    imaging_dtype: Literal["auto", "float16", "bfloat16", "float32"] = "auto"
    imaging_compile: bool = Field(default=False, description="torch.compile the UNet (slow first batch).")
    imaging_long_side: int = Field(default=1024, ge=64, le=4096, description="Output size: the longer side, pixels.")
    imaging_min_side: int = Field(default=512, ge=16, description="Shorter side below which a shot fails quality.")
    imaging_threshold: float = Field(default=0.7, ge=0, le=1, description="Score a shot needs to reach operators.")
    imaging_max_attempts: int = Field(default=3, ge=1, le=10, description="Generation rounds before the fallback.")
    imaging_max_count: int = Field(default=8, ge=1, le=8, description="Most shots one job may ask for.")
    imaging_batch_size: int = Field(default=8, ge=1, le=64, description="Most images in one GPU batch.")
    imaging_batch_wait_ms: float = Field(default=50.0, ge=0, description="How long a batch waits for company.")
    imaging_concurrency: int = Field(default=8, ge=1, le=256, description="Photo jobs one imaging worker holds.")
    imaging_idle_timeout_s: float = Field(
        default=60.0, ge=0.5, description="A photo job whose worker stops heartbeating this long is handed over."
    )
    imaging_max_queued_per_tenant: int = Field(default=20, ge=1, description="Unfinished photo jobs per shop.")
    imaging_max_running_per_tenant: int = Field(default=2, ge=1, description="Photo jobs of one shop run at once.")
    imaging_gpu_second_usd: Decimal = Field(default=Decimal("0.0009"), ge=0, description="Billed per GPU second.")
    imaging_cpu_second_usd: Decimal = Field(default=Decimal("0.00003"), ge=0, description="Billed per CPU second.")
    prompts_dir: Path | None = Field(default=None, description="Prompt files; unset means the repository's prompts/.")

    otlp_endpoint: str | None = Field(
        default=None,
        description="OTLP/HTTP traces URL (e.g. http://collector:4318/v1/traces): stored turn traces are also exported.",
    )
    llm_base_url: str | None = Field(
        default=None, description="OpenAI-compatible endpoint; unset with no key → no model."
    )
    llm_api_key: SecretStr | None = None
    llm_model: str | None = Field(default=None, description="Default model for every feature.")
    llm_models: dict[str, list[str]] = Field(
        default_factory=dict,
        description='Per-feature ordered fallback chain, JSON: {"seo_copy": ["gpt-4o", "gpt-4o-mini"]}.',
    )
    llm_connect_timeout_s: float = Field(default=5.0, gt=0)
    llm_read_timeout_s: float = Field(default=30.0, gt=0)
    llm_deadline_s: float = Field(default=60.0, gt=0, description="Total time for one model, retries included.")
    llm_max_attempts: int = Field(default=3, ge=1, le=10, description="Transport attempts per model and ask.")
    llm_max_reasks: int = Field(default=2, ge=0, le=5, description="Re-asks after invalid output, per model.")
    llm_breaker_failures: int = Field(default=5, ge=1, description="Failures in a row that open a circuit.")
    llm_breaker_cooldown_s: float = Field(default=30.0, gt=0, description="Open time before a probe call.")
    llm_rate_limit_per_minute: int = Field(default=600, ge=1, description="Model calls per tenant per minute.")
    eval_sample_percent: float = Field(
        default=0.0,
        ge=0,
        le=100,
        description="Share of production shopper replies a judge grades in the background (`/quality` in the console), "
        "when a model is configured; billed to the tenant's `evals` feature and budget-checked like any call.",
    )
    eval_judge_model: str | None = Field(
        default=None,
        description="Model that grades eval answers (judged metrics, `hub eval gate --quality`), on the configured "
        "endpoint; default: the model the use case runs on. Its calls are billed to the `evals` feature.",
    )
    chat_turn_deadline_s: float = Field(
        default=8.0,
        gt=0,
        le=600,
        description="A shopper's turn answers within this, whatever the model does; the deterministic engine "
        "answers when the model has not.",
    )
    operator_turn_deadline_s: float = Field(
        default=120.0, gt=0, le=3600, description="The same for an operator's console turn (longer tools)."
    )
    switch_poll_s: float = Field(
        default=5.0,
        gt=0,
        description="Safety net: how often each process re-reads the kill switches it was not told of.",
    )
    usage_flush_interval_s: float = Field(default=0.5, gt=0)
    usage_flush_batch: int = Field(default=200, ge=1)
    jobs_concurrency: int = Field(default=4, ge=1, le=256, description="Background jobs one worker runs at once.")
    jobs_idle_timeout_s: float = Field(
        default=30.0,
        ge=0.5,
        description="A running job whose worker stops heartbeating for this long is handed to another worker.",
    )
    jobs_max_tries: int = Field(default=3, ge=1, le=20, description="Tries per background job before it is dead.")
    shop_webhook_timeout_s: float = Field(
        default=10.0, gt=0, description="One delivery of an event to a shop's webhook, connect to last byte."
    )
    shop_webhook_max_attempts: int = Field(
        default=8, ge=1, le=50, description="Deliveries of one event before it is dead (on the dead-letter list)."
    )
    shop_webhook_backoff_s: float = Field(
        default=30.0, gt=0, description="Wait after an event's first failed delivery; doubles per failure, jittered."
    )
    shop_webhook_backoff_max_s: float = Field(
        default=3600.0, gt=0, description="Longest wait between two deliveries of one event."
    )
    shop_webhook_sweep_s: float = Field(
        default=5.0, gt=0, description="How often a channel worker looks for events whose delivery is due."
    )
    shop_webhook_private_ok: bool | None = Field(
        default=None,
        description="Deliver shop events to loopback, private and link-local addresses; unset: only outside "
        "production (a shop's webhook URL must not reach the hosting network).",
    )

    @field_validator("data_dir", "prompts_dir", mode="after")
    @classmethod
    def _absolute_dir(cls, value: Path | None) -> Path | None:
        """Resolve a relative directory once, against the working directory `hub` was started in.

        Child processes (the embedded Valkey runs inside the data dir) and later `chdir`s must not change
        what a path means: `.hub/redis/valkey.sock` seen from `.hub/redis/` is another file.
        """
        return value.expanduser().resolve() if value is not None else None

    @field_validator("imaging_model", "imaging_controlnet", "imaging_ip_adapter", mode="after")
    @classmethod
    def _absolute_local_model(cls, value: str | None) -> str | None:
        """A model named by a relative folder that exists is made absolute; a hub id (`org/name`) stays as written."""
        if value and not Path(value).is_absolute() and Path(value).expanduser().exists():
            return str(Path(value).expanduser().resolve())
        return value

    @field_validator("database_url", mode="after")
    @classmethod
    def _absolute_sqlite_file(cls, value: str | None) -> str | None:
        """`sqlite+aiosqlite:///hub.db` names a file relative to the working directory: make it absolute."""
        if not value:
            return value
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError("not a SQLAlchemy database URL (e.g. postgresql://user:pass@host/db)") from None
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            path = Path(url.database).expanduser()
            if not path.is_absolute():
                return url.set(database=str(path.resolve())).render_as_string(hide_password=False)
        return value

    @property
    def shop_webhook_private_allowed(self) -> bool:
        """Whether shop events may go to non-public addresses (`HUB_SHOP_WEBHOOK_PRIVATE_OK`, else not in production)."""
        if self.shop_webhook_private_ok is not None:
            return self.shop_webhook_private_ok
        return self.env is not Environment.PRODUCTION

    @property
    def llm_configured(self) -> bool:
        return bool(self.llm_base_url or self.llm_api_key)

    @model_validator(mode="after")
    def _llm_needs_a_model(self) -> Settings:
        if self.llm_configured and not (self.llm_model or self.llm_models):
            raise ValueError("HUB_LLM_MODEL must be set when HUB_LLM_BASE_URL or HUB_LLM_API_KEY is set")
        return self

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.env is Environment.PRODUCTION:
            secret = self.secret_key.get_secret_value()
            if secret == DEFAULT_SECRET_KEY or len(secret) < 32:
                raise ValueError("HUB_SECRET_KEY must be set to a random value of at least 32 characters in production")
            if self.database_url is None:
                raise ValueError("HUB_DATABASE_URL must be set in production (embedded SQLite is for development)")
            if self.redis_url is None:
                raise ValueError("HUB_REDIS_URL must be set in production (embedded Redis is for development)")
        return self

    @property
    def resolved_database_url(self) -> str:
        """Return the configured database URL, or the embedded SQLite file under data_dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'hub.db'}"

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"


def describe_validation_error(exc: ValidationError) -> str:
    """Render a settings error as one line naming the environment variable."""
    parts: list[str] = []
    for err in exc.errors():
        loc = "__".join(str(p) for p in err["loc"])
        name = f"HUB_{loc.upper()}" if loc else "settings"
        msg = err["msg"].removeprefix("Value error, ")
        value = err.get("input")
        shown = f" (got {value!r})" if loc and isinstance(value, str | int | float) else ""
        parts.append(f"{name}: {msg}{shown}" if loc else msg)
    return "invalid configuration: " + "; ".join(parts)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings; call only from entry points."""
    return Settings()
