"""Settings: defaults that run with no configuration, and one clear line for a bad variable."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from hub.settings import Environment, Settings, describe_validation_error


def test_defaults_run_embedded_with_no_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HUB_DATABASE_URL", "HUB_REDIS_URL", "HUB_ENV", "HUB_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    s = Settings()
    assert s.env is Environment.DEVELOPMENT and s.redis_url is None
    assert s.resolved_database_url == f"sqlite+aiosqlite:///{Path('.hub/hub.db').resolve()}"
    assert (s.host, s.port) == ("127.0.0.1", 8000)


def test_environment_variables_are_read_with_the_hub_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_PORT", "9001")
    monkeypatch.setenv("HUB_DATABASE_URL", "postgresql://db/hub")
    s = Settings()
    assert s.port == 9001 and s.resolved_database_url == "postgresql://db/hub"


def test_a_bad_value_is_reported_on_one_line_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_PORT", "eighty")
    with pytest.raises(ValidationError) as err:
        Settings()
    line = describe_validation_error(err.value)
    assert "\n" not in line
    assert line.startswith("invalid configuration: HUB_PORT:") and "'eighty'" in line


def test_production_refuses_the_default_secret() -> None:
    with pytest.raises(ValidationError) as err:
        Settings(env="production", database_url="postgresql://db/hub", redis_url="redis://r")
    assert "HUB_SECRET_KEY" in describe_validation_error(err.value)


def test_production_refuses_embedded_storage() -> None:
    with pytest.raises(ValidationError, match="HUB_DATABASE_URL must be set"):
        Settings(env="production", secret_key="x" * 40, redis_url="redis://r")
    ok = Settings(env="production", secret_key="x" * 40, database_url="postgresql://db/hub", redis_url="redis://r")
    assert ok.env is Environment.PRODUCTION
