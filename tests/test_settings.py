from __future__ import annotations

from pathlib import Path

import pytest

from ovoz.settings import DEVELOPMENT_SECRET_KEY, ROOT, SettingsError, load_settings

SHIPPED = {"OVOZ_CONFIG": str(ROOT / "litestar.toml")}
ESKIZ = {"OVOZ_ESKIZ_EMAIL": "sms@district.example", "OVOZ_ESKIZ_PASSWORD": "from-the-vault"}


def test_shipped_configuration_loads_with_typed_values() -> None:
    settings = load_settings(SHIPPED)
    assert settings.mode == "development"
    assert settings.port == 8000 and isinstance(settings.port, int)
    assert settings.pilot_districts == (16, 106, 126)
    assert settings.database_url == "sqlite:///var/ovoz.sqlite3"
    assert settings.uses_sqlite
    assert settings.sms_backend == "console"
    assert settings.sms_console_outbox == ROOT / "var" / "sms-outbox.jsonl"
    assert "{z}" in settings.map_tile_url


def test_environment_overrides_the_file() -> None:
    settings = load_settings({
        **SHIPPED,
        "OVOZ_DATABASE_URL": "postgresql://ovoz@db.internal:5432/ovoz",
        "OVOZ_SECRET_KEY": "s" * 40,
        "OVOZ_PORT": "9000",
        "OVOZ_PILOT_DISTRICTS": "16, 33",
        "OVOZ_DEFAULT_LANGUAGE": "ru",
    })
    assert settings.database_url == "postgresql://ovoz@db.internal:5432/ovoz"
    assert not settings.uses_sqlite
    assert settings.secret_key == "s" * 40
    assert settings.port == 9000
    assert settings.pilot_districts == (16, 33)
    assert settings.default_language == "ru"


def test_another_file_is_read_when_named(tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    config.write_text('[server]\nport = 8123\n[places]\npilot_districts = [33]\n')
    settings = load_settings({"OVOZ_CONFIG": str(config)})
    assert settings.port == 8123
    assert settings.pilot_districts == (33,)
    assert settings.workers == 2


@pytest.mark.parametrize(
    ("environ", "key"),
    [
        ({"OVOZ_PORT": "eighty"}, "OVOZ_PORT"),
        ({"OVOZ_PORT": "70000"}, "OVOZ_PORT"),
        ({"OVOZ_DATABASE_URL": "mysql://x/y"}, "OVOZ_DATABASE_URL"),
        ({"OVOZ_DATABASE_URL": "sqlite:///"}, "OVOZ_DATABASE_URL"),
        ({"OVOZ_PILOT_DISTRICTS": "16, 99999"}, "OVOZ_PILOT_DISTRICTS"),
        ({"OVOZ_PILOT_DISTRICTS": "Beruniy"}, "OVOZ_PILOT_DISTRICTS"),
        ({"OVOZ_MAP_TILE_URL": "https://tiles.example/{z}.png"}, "OVOZ_MAP_TILE_URL"),
        ({"OVOZ_SMS_BACKEND": "pigeon"}, "OVOZ_SMS_BACKEND"),
        ({"OVOZ_DEFAULT_LANGUAGE": "fr"}, "OVOZ_DEFAULT_LANGUAGE"),
        ({"OVOZ_MODE": "staging"}, "OVOZ_MODE"),
        ({"OVOZ_SECRET_KEY": "  "}, "OVOZ_SECRET_KEY"),
    ],
)
def test_a_bad_value_names_its_key_and_what_is_expected(environ: dict[str, str], key: str
                                                        ) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings({**SHIPPED, **environ})
    message = str(raised.value)
    assert message.startswith(f"{key}: expected ")
    assert "\n" not in message


def test_a_bad_value_in_the_file_names_the_file_key(tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    config.write_text('[server]\nworkers = "many"\n')
    with pytest.raises(SettingsError, match=r"^server\.workers: expected a whole number"):
        load_settings({"OVOZ_CONFIG": str(config)})


def test_missing_or_broken_configuration_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="OVOZ_CONFIG: no configuration file"):
        load_settings({"OVOZ_CONFIG": str(tmp_path / "absent.toml")})
    broken = tmp_path / "broken.toml"
    broken.write_text("[server\nport = 1")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings({"OVOZ_CONFIG": str(broken)})


def test_production_refuses_the_development_secret_key() -> None:
    with pytest.raises(SettingsError, match=r"^site\.secret_key: production"):
        load_settings({**SHIPPED, **ESKIZ, "OVOZ_MODE": "production",
                       "OVOZ_SMS_BACKEND": "eskiz"})
    with pytest.raises(SettingsError, match=r"^site\.secret_key"):
        load_settings({**SHIPPED, **ESKIZ, "OVOZ_MODE": "production",
                       "OVOZ_SMS_BACKEND": "eskiz", "OVOZ_SECRET_KEY": "short"})


def test_production_refuses_the_console_sms_backend() -> None:
    with pytest.raises(SettingsError, match=r"^sms\.backend: the console backend"):
        load_settings({**SHIPPED, "OVOZ_MODE": "production", "OVOZ_SECRET_KEY": "k" * 40})


def test_production_starts_with_its_own_secret_and_a_real_gateway() -> None:
    settings = load_settings({**SHIPPED, **ESKIZ, "OVOZ_MODE": "production",
                              "OVOZ_SECRET_KEY": "k" * 40, "OVOZ_SMS_BACKEND": "eskiz"})
    assert settings.production
    assert settings.secret_key != DEVELOPMENT_SECRET_KEY


def test_eskiz_needs_its_credentials() -> None:
    with pytest.raises(SettingsError, match=r"^sms\.eskiz\.email: the eskiz backend needs"):
        load_settings({**SHIPPED, "OVOZ_SMS_BACKEND": "eskiz"})
    settings = load_settings({**SHIPPED, **ESKIZ, "OVOZ_SMS_BACKEND": "eskiz"})
    assert settings.eskiz_email == "sms@district.example"


def test_oneid_is_off_by_default_and_needs_a_client_when_on() -> None:
    assert load_settings(SHIPPED).oneid_enabled is False
    with pytest.raises(SettingsError, match=r"^oneid\.client_id"):
        load_settings({**SHIPPED, "OVOZ_ONEID_ENABLED": "true"})
    settings = load_settings({**SHIPPED, "OVOZ_ONEID_ENABLED": "yes",
                              "OVOZ_ONEID_CLIENT_ID": "ovoz", "OVOZ_ONEID_CLIENT_SECRET": "s"})
    assert settings.oneid_enabled
    with pytest.raises(SettingsError, match=r"^OVOZ_ONEID_ENABLED: expected true or false"):
        load_settings({**SHIPPED, "OVOZ_ONEID_ENABLED": "maybe"})
