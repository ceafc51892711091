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


def test_relative_paths_are_made_absolute_once_against_the_starting_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "models" / "sd15").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    for name in ("HUB_DATABASE_URL", "HUB_DATA_DIR", "HUB_PROMPTS_DIR", "HUB_IMAGING_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HUB_PROMPTS_DIR", "prompts")
    monkeypatch.setenv("HUB_IMAGING_MODEL", "models/sd15")
    s = Settings()
    monkeypatch.chdir("/")  # what a child process with another working directory sees
    assert s.data_dir == tmp_path / ".hub" and s.media_dir == tmp_path / ".hub" / "media"
    assert s.prompts_dir == tmp_path / "prompts"
    assert s.imaging_model == str(tmp_path / "models" / "sd15")
    assert s.resolved_database_url == f"sqlite+aiosqlite:///{tmp_path / '.hub' / 'hub.db'}"
    assert Settings(imaging_model="runwayml/stable-diffusion-v1-5").imaging_model == "runwayml/stable-diffusion-v1-5"


def test_a_relative_sqlite_url_names_a_file_in_the_starting_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    assert (
        Settings(database_url="sqlite+aiosqlite:///shop.db").database_url == f"sqlite+aiosqlite:///{tmp_path}/shop.db"
    )
    assert Settings(database_url="postgresql://u:p@db/hub").database_url == "postgresql://u:p@db/hub"
    with pytest.raises(ValidationError, match="not a SQLAlchemy database URL"):
        Settings(database_url="::nonsense::")
