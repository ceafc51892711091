"""Decide which models serve a feature, and with what timeouts and limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlparse

from hub.settings import Settings

OPENAI_PROVIDER = "openai"


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """Everything the gateway needs from Settings, so nothing below reads the environment."""

    base_url: str | None = None
    api_key: str | None = None
    default_model: str | None = None
    feature_models: dict[str, list[str]] = field(default_factory=dict)
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 30.0
    deadline_s: float = 60.0
    max_attempts: int = 3
    max_reasks: int = 2
    breaker_failures: int = 5
    breaker_cooldown_s: float = 30.0
    rate_limit_per_minute: int = 600
    backoff_initial_s: float = 0.25
    backoff_max_s: float = 8.0
    hang_after_s: float = 1.0
    """A call its caller cancels counts as a hang (which opens the circuit) only once it has waited this long on
    the model: a caller that leaves sooner (a closed browser, a shutdown) says nothing about the model."""
    provider: str = field(init=False)
    """A stable name for the endpoint, used in the ledger and breaker keys."""

    def __post_init__(self) -> None:
        host = urlparse(self.base_url).netloc if self.base_url else ""
        if not self.configured:
            provider = "none"
        else:
            provider = OPENAI_PROVIDER if not host or host.endswith("openai.com") else host
        object.__setattr__(self, "provider", provider)

    @classmethod
    def from_settings(cls, settings: Settings) -> GatewayConfig:
        return cls(
            base_url=settings.llm_base_url,
            api_key=settings.llm_api_key.get_secret_value() if settings.llm_api_key else None,
            default_model=settings.llm_model,
            feature_models=dict(settings.llm_models),
            connect_timeout_s=settings.llm_connect_timeout_s,
            read_timeout_s=settings.llm_read_timeout_s,
            deadline_s=settings.llm_deadline_s,
            max_attempts=settings.llm_max_attempts,
            max_reasks=settings.llm_max_reasks,
            breaker_failures=settings.llm_breaker_failures,
            breaker_cooldown_s=settings.llm_breaker_cooldown_s,
            rate_limit_per_minute=settings.llm_rate_limit_per_minute,
        )

    @property
    def configured(self) -> bool:
        """No base URL and no key means no model: callers get their deterministic fallback."""
        return bool(self.base_url or self.api_key)

    def chain(self, feature: str, hint: str | None = None) -> list[str]:
        """Return the ordered models for a feature: its own chain, else the prompt's hint, else the default."""
        if not self.configured:
            return []
        if feature in self.feature_models:
            return list(self.feature_models[feature])
        models = [m for m in (hint, self.default_model) if m]
        return list(dict.fromkeys(models))
