"""Settings: defaults, variables, .env, masking, and errors that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import ConfigError, describe_fields, known_env_names, load_settings, masked


def test_defaults_are_embedded_stores_under_the_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("VIGIL_DATA_DIR", str(tmp_path))
    settings = load_settings()
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'vigil.db'}"
    assert settings.effective_bus_url == f"sqlite:///{tmp_path / 'bus.db'}"
    assert settings.effective_storage_url == f"file://{tmp_path / 'objects'}"


def test_nested_variables_and_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("VIGIL_BUS__MAX_ATTEMPTS=9\nVIGIL_HTTP__PORT=9001\n")
    monkeypatch.setenv("VIGIL_HTTP__PORT", "9002")  # the environment wins over .env
    settings = load_settings()
    assert settings.bus.max_attempts == 9
    assert settings.http.port == 9002


def test_unknown_variable_is_named_with_a_suggestion(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_BUS__MAX_ATEMPTS", "3")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "VIGIL_BUS__MAX_ATEMPTS: unknown setting" in str(caught.value)
    assert "did you mean VIGIL_BUS__MAX_ATTEMPTS?" in str(caught.value)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        (
            "VIGIL_BUS__MAX_ATTEMPTS",
            "many",
            "VIGIL_BUS__MAX_ATTEMPTS: Input should be a valid integer",
        ),
        (
            "VIGIL_HTTP__PORT",
            "70000",
            "VIGIL_HTTP__PORT: Input should be less than or equal to 65535",
        ),
        (
            "VIGIL_BUS_URL",
            "redis://x",
            "VIGIL_BUS_URL: Value error, scheme must be one of sqlite, nats",
        ),
        ("VIGIL_ENV", "prod", "VIGIL_ENV: Input should be 'development', 'test' or 'production'"),
        ("VIGIL_LOG__FORMAT", "xml", "VIGIL_LOG__FORMAT: Input should be 'text' or 'json'"),
    ],
)
def test_wrong_values_name_the_variable_and_what_is_allowed(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert expected in str(caught.value)
    assert repr(value) in str(caught.value)


def test_placeholder_secret_refused_outside_development(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().env == "development"  # the placeholder is fine for development
    monkeypatch.setenv("VIGIL_ENV", "production")
    with pytest.raises(ConfigError, match="VIGIL_AUTH__SECRET_KEY: a placeholder or short secret"):
        load_settings()
    monkeypatch.setenv("VIGIL_AUTH__SECRET_KEY", "short-but-not-placeholder")
    with pytest.raises(ConfigError, match="32\\+ random characters"):
        load_settings()
    monkeypatch.setenv("VIGIL_AUTH__SECRET_KEY", "k" * 40)
    assert load_settings().env == "production"


def test_masked_hides_secrets_and_url_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_DATABASE_URL", "postgresql+psycopg://vigil:hunter2@db:5432/vigil")
    monkeypatch.setenv("VIGIL_S3__SECRET_ACCESS_KEY", "s3-secret")
    data = masked(load_settings())
    text = str(data)
    assert "hunter2" not in text
    assert "s3-secret" not in text
    assert "dev-secret-change-me" not in text
    assert data["database_url"] == "postgresql+psycopg://vigil:**********@db:5432/vigil"
    assert data["auth"]["secret_key"] == "**********"


def test_every_field_is_described() -> None:
    rows = describe_fields()
    assert {name for name, _ in rows} <= known_env_names()
    missing = [name for name, description in rows if not description]
    assert missing == []
    assert len(rows) >= 25
