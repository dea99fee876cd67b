"""litestar.toml plus OVOZ_* environment overrides, read into one typed Settings object."""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
LANGUAGES = ("uz", "uz-Cyrl", "ru", "en")
DEVELOPMENT_SECRET_KEY = "development-only-secret-key-change-me"
SMS_BACKENDS = ("console", "eskiz")
PETITION_LEVELS = ("mahalla", "district_hokimiyat", "district_kengash", "regional_hokimiyat")


@dataclass(frozen=True, slots=True)
class PetitionRules:
    """What a petition to one level of addressee needs: signatures (a fixed number, or a
    percentage of the area's population where it is known), days to collect them, and days the
    addressee has to answer once they are reached."""

    threshold: int
    population_percent: float
    window_days: int
    response_days: int


# Defaults: a mahalla answers to 100 of its residents, a district to 1,000, a region to 5,000;
# 90 days to collect; the Law on Appeals' month to answer.
DEFAULT_PETITION_RULES = {
    "mahalla": PetitionRules(100, 0.0, 90, 30),
    "district_hokimiyat": PetitionRules(1000, 0.0, 90, 30),
    "district_kengash": PetitionRules(1000, 0.0, 90, 30),
    "regional_hokimiyat": PetitionRules(5000, 0.0, 90, 30),
}
# The range of each rule, the same in litestar.toml and for administrators in the browser.
PETITION_RULE_LIMITS: Mapping[str, tuple[int, int]] = MappingProxyType({
    "threshold": (1, 10_000_000),
    "population_percent": (0, 100),
    "window_days": (1, 365),
    "response_days": (1, 365),
})


class SettingsError(Exception):
    """A configuration value is missing or wrong; the message names the key."""


@dataclass(frozen=True, slots=True)
class Settings:
    mode: str
    secret_key: str
    site_name: str
    base_url: str
    default_language: str
    host: str
    port: int
    workers: int
    log_format: str
    database_url: str
    sqlite_busy_timeout: float
    postgres_pool_size: int
    pilot_districts: tuple[int, ...]
    map_tile_url: str
    map_attribution: str
    sms_backend: str
    sms_console_outbox: Path
    page_size: int
    max_upload_mb: int
    eskiz_base_url: str
    eskiz_email: str
    eskiz_password: str
    eskiz_sender: str
    oneid_enabled: bool
    oneid_client_id: str
    oneid_client_secret: str
    oneid_authorize_url: str
    oneid_token_url: str
    oneid_scope: str
    session_idle_minutes: int
    session_absolute_hours: int
    api_token_days: int
    new_accounts_per_address_per_day: int
    new_accounts_per_range_per_day: int
    telegram_bot_token: str
    telegram_api_url: str
    telegram_bot_username: str
    smtp_host: str
    smtp_port: int
    smtp_username: str
    smtp_password: str
    smtp_sender: str
    smtp_starttls: bool
    outbox_max_attempts: int
    worker_in_server: bool
    upload_dir: Path
    fix_check_days: int
    petition_rules: Mapping[str, PetitionRules]
    petition_sponsors: int
    petition_sponsor_days: int
    petition_anonymise_days: int
    deadline_counting: str
    working_weekdays: tuple[int, ...]
    public_holidays: tuple[date, ...]
    escalate_after_days: int

    @property
    def production(self) -> bool:
        return self.mode == "production"

    @property
    def uses_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite:")


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("a non-empty text")
    return value.strip()


def _in_range(convert: Callable[[Any], float], noun: str, low: float, high: float
              ) -> Callable[[Any], Any]:
    def parse(value: Any) -> Any:
        try:
            number = None if isinstance(value, bool) else convert(value)
        except (TypeError, ValueError):
            number = None
        if number is None or not low <= number <= high:
            raise ValueError(f"{noun} from {low} to {high}")
        return number

    return parse


def _integer(low: int, high: int) -> Callable[[Any], int]:
    return _in_range(int, "a whole number", low, high)


def _number(low: float, high: float) -> Callable[[Any], float]:
    return _in_range(float, "a number", low, high)


def _one_of(*choices: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        if value not in choices:
            raise ValueError("one of " + ", ".join(repr(c) for c in choices))
        return str(value)

    return parse


def _database_url(value: Any) -> str:
    url = _text(value)
    scheme = urlsplit(url).scheme
    if scheme == "sqlite" and url.startswith("sqlite:///") and len(url) > len("sqlite:///"):
        return url
    if scheme in ("postgres", "postgresql") and urlsplit(url).path.strip("/"):
        return url
    raise ValueError("sqlite:///PATH or postgresql://USER@HOST:PORT/DATABASE")


def _optional_text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("text")
    return value.strip()


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError("true or false")


def _url(value: Any) -> str:
    url = _text(value)
    if urlsplit(url).scheme not in ("http", "https"):
        raise ValueError("an http:// or https:// address")
    return url.rstrip("/")


def _tile_url(value: Any) -> str:
    url = _text(value)
    if not all(part in url for part in ("{z}", "{x}", "{y}")):
        raise ValueError("a tile address containing {z}, {x} and {y}")
    if not url.startswith(("http://", "https://", "/")):
        raise ValueError("an http(s) address or a path on this site")
    return url


def _district_ids(value: Any) -> tuple[int, ...]:
    if isinstance(value, str):
        value = [part for part in value.replace(",", " ").split() if part]
    if not isinstance(value, list):
        raise ValueError("a list of district ids, e.g. [42, 57]")
    known = _known_district_ids()
    ids: list[int] = []
    for item in value:
        try:
            district_id = int(item)
        except (TypeError, ValueError):
            raise ValueError(f"a list of district ids; {item!r} is not a number") from None
        if district_id not in known:
            raise ValueError(f"ids from seeds/places/districts.csv; {district_id} is not one")
        ids.append(district_id)
    return tuple(dict.fromkeys(ids))


@cache
def _known_district_ids() -> frozenset[int]:
    import csv

    with (ROOT / "seeds" / "places" / "districts.csv").open(encoding="utf-8") as rows:
        return frozenset(int(row["id"]) for row in csv.DictReader(rows))


def _petition_rules(value: Any) -> Mapping[str, PetitionRules]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ValueError("a JSON object of levels") from None
    if not isinstance(value, Mapping):
        raise ValueError("a table of levels: " + ", ".join(PETITION_LEVELS))
    unknown = set(value) - set(PETITION_LEVELS)
    if unknown:
        raise ValueError("levels among " + ", ".join(PETITION_LEVELS) + f"; not {sorted(unknown)}")
    rules = {}
    for level, default in DEFAULT_PETITION_RULES.items():
        given = value.get(level, {})
        if not isinstance(given, Mapping):
            raise ValueError(f"a table for {level}")
        try:
            rules[level] = PetitionRules(**{
                name: (_number if name == "population_percent" else _integer)(low, high)(
                    given.get(name, getattr(default, name)))
                for name, (low, high) in PETITION_RULE_LIMITS.items()
            })
        except ValueError as error:
            raise ValueError(f"{level}: {error}") from None
    return MappingProxyType(rules)


def _weekdays(value: Any) -> tuple[int, ...]:
    if isinstance(value, str):
        value = [part for part in value.replace(",", " ").split() if part]
    if not isinstance(value, list) or not value:
        raise ValueError("a list of ISO weekdays, 1 (Monday) to 7 (Sunday), e.g. [1, 2, 3, 4, 5]")
    days = []
    for item in value:
        try:
            day = int(item)
        except (TypeError, ValueError):
            day = 0
        if not 1 <= day <= 7:
            raise ValueError(f"weekdays from 1 (Monday) to 7 (Sunday); not {item!r}")
        days.append(day)
    return tuple(sorted(set(days)))


def _holidays(value: Any) -> tuple[date, ...]:
    """A list of dates, or the path of a CSV file with a `date` column (seeds/holidays.csv)."""
    if isinstance(value, str) and not value.strip()[:4].isdigit():
        import csv

        path = _path(value)
        try:
            with path.open(encoding="utf-8") as rows:
                value = [row["date"] for row in csv.DictReader(rows)]
        except (OSError, KeyError):
            raise ValueError(f"a CSV file with a date column; cannot read {path}") from None
    elif isinstance(value, str):
        value = [part for part in value.replace(",", " ").split() if part]
    if not isinstance(value, list):
        raise ValueError("a list of dates (YYYY-MM-DD) or a CSV file of them")
    days = []
    for item in value:
        try:
            days.append(item if isinstance(item, date) else date.fromisoformat(str(item)))
        except ValueError:
            raise ValueError(f"dates as YYYY-MM-DD; not {item!r}") from None
    return tuple(sorted(set(days)))


def _path(value: Any) -> Path:
    path = Path(_text(value))
    return path if path.is_absolute() else ROOT / path


# (field, key in litestar.toml, environment variable, parser, default)
_OPTIONS: tuple[tuple[str, str, str, Callable[[Any], Any], Any], ...] = (
    ("mode", "site.mode", "OVOZ_MODE", _one_of("development", "production"), "development"),
    ("secret_key", "site.secret_key", "OVOZ_SECRET_KEY", _text, DEVELOPMENT_SECRET_KEY),
    ("site_name", "site.name", "OVOZ_SITE_NAME", _text, "Ovoz"),
    ("base_url", "site.base_url", "OVOZ_BASE_URL", _url, "http://127.0.0.1:8000"),
    ("default_language", "site.default_language", "OVOZ_DEFAULT_LANGUAGE", _one_of(*LANGUAGES),
     "uz"),
    ("host", "server.host", "OVOZ_HOST", _text, "127.0.0.1"),
    ("port", "server.port", "OVOZ_PORT", _integer(1, 65535), 8000),
    ("workers", "server.workers", "OVOZ_WORKERS", _integer(1, 64), 2),
    ("log_format", "server.log_format", "OVOZ_LOG_FORMAT", _one_of("text", "json"), "text"),
    ("database_url", "database.url", "OVOZ_DATABASE_URL", _database_url,
     "sqlite:///var/ovoz.sqlite3"),
    ("sqlite_busy_timeout", "database.sqlite_busy_timeout", "OVOZ_SQLITE_BUSY_TIMEOUT",
     _number(0.1, 600), 30.0),
    ("postgres_pool_size", "database.pool_size", "OVOZ_DATABASE_POOL_SIZE", _integer(1, 200), 10),
    ("pilot_districts", "places.pilot_districts", "OVOZ_PILOT_DISTRICTS", _district_ids, []),
    ("map_tile_url", "map.tile_url", "OVOZ_MAP_TILE_URL", _tile_url,
     "https://tile.openstreetmap.org/{z}/{x}/{y}.png"),
    ("map_attribution", "map.attribution", "OVOZ_MAP_ATTRIBUTION", _text,
     "© OpenStreetMap contributors"),
    ("sms_backend", "sms.backend", "OVOZ_SMS_BACKEND", _one_of(*SMS_BACKENDS), "console"),
    ("sms_console_outbox", "sms.console_outbox", "OVOZ_SMS_CONSOLE_OUTBOX", _path,
     "var/sms-outbox.jsonl"),
    ("page_size", "limits.page_size", "OVOZ_PAGE_SIZE", _integer(5, 200), 20),
    ("max_upload_mb", "limits.max_upload_mb", "OVOZ_MAX_UPLOAD_MB", _integer(1, 100), 10),
    ("eskiz_base_url", "sms.eskiz.base_url", "OVOZ_ESKIZ_BASE_URL", _url,
     "https://notify.eskiz.uz/api"),
    ("eskiz_email", "sms.eskiz.email", "OVOZ_ESKIZ_EMAIL", _optional_text, ""),
    ("eskiz_password", "sms.eskiz.password", "OVOZ_ESKIZ_PASSWORD", _optional_text, ""),
    ("eskiz_sender", "sms.eskiz.sender", "OVOZ_ESKIZ_SENDER", _optional_text, "4546"),
    ("oneid_enabled", "oneid.enabled", "OVOZ_ONEID_ENABLED", _boolean, False),
    ("oneid_client_id", "oneid.client_id", "OVOZ_ONEID_CLIENT_ID", _optional_text, ""),
    ("oneid_client_secret", "oneid.client_secret", "OVOZ_ONEID_CLIENT_SECRET", _optional_text,
     ""),
    ("oneid_authorize_url", "oneid.authorize_url", "OVOZ_ONEID_AUTHORIZE_URL", _url,
     "https://sso.egov.uz/sso/oauth/Authorization.do"),
    ("oneid_token_url", "oneid.token_url", "OVOZ_ONEID_TOKEN_URL", _url,
     "https://sso.egov.uz/sso/oauth/Authorization.do"),
    ("oneid_scope", "oneid.scope", "OVOZ_ONEID_SCOPE", _text, "ovoz"),
    ("session_idle_minutes", "accounts.session_idle_minutes", "OVOZ_SESSION_IDLE_MINUTES",
     _integer(5, 60 * 24 * 30), 60 * 24 * 7),
    ("session_absolute_hours", "accounts.session_absolute_hours", "OVOZ_SESSION_ABSOLUTE_HOURS",
     _integer(1, 24 * 365), 24 * 30),
    ("api_token_days", "accounts.api_token_days", "OVOZ_API_TOKEN_DAYS", _integer(1, 365), 90),
    ("new_accounts_per_address_per_day", "accounts.new_accounts_per_address_per_day",
     "OVOZ_NEW_ACCOUNTS_PER_ADDRESS_PER_DAY", _integer(1, 100_000), 50),
    ("new_accounts_per_range_per_day", "accounts.new_accounts_per_range_per_day",
     "OVOZ_NEW_ACCOUNTS_PER_RANGE_PER_DAY", _integer(1, 100), 10),
    ("telegram_bot_token", "telegram.bot_token", "OVOZ_TELEGRAM_BOT_TOKEN", _optional_text, ""),
    ("telegram_api_url", "telegram.api_url", "OVOZ_TELEGRAM_API_URL", _url,
     "https://api.telegram.org"),
    ("telegram_bot_username", "telegram.bot_username", "OVOZ_TELEGRAM_BOT_USERNAME",
     _optional_text, ""),
    ("smtp_host", "email.smtp_host", "OVOZ_SMTP_HOST", _optional_text, ""),
    ("smtp_port", "email.smtp_port", "OVOZ_SMTP_PORT", _integer(1, 65535), 587),
    ("smtp_username", "email.smtp_username", "OVOZ_SMTP_USERNAME", _optional_text, ""),
    ("smtp_password", "email.smtp_password", "OVOZ_SMTP_PASSWORD", _optional_text, ""),
    ("smtp_sender", "email.sender", "OVOZ_EMAIL_SENDER", _optional_text, ""),
    ("smtp_starttls", "email.starttls", "OVOZ_SMTP_STARTTLS", _boolean, True),
    ("outbox_max_attempts", "notify.max_attempts", "OVOZ_OUTBOX_MAX_ATTEMPTS",
     _integer(1, 50), 8),
    ("worker_in_server", "notify.worker_in_server", "OVOZ_WORKER_IN_SERVER", _boolean, False),
    ("upload_dir", "limits.upload_dir", "OVOZ_UPLOAD_DIR", _path, "var/uploads"),
    ("fix_check_days", "reports.fix_check_days", "OVOZ_FIX_CHECK_DAYS", _integer(1, 90), 14),
    ("petition_rules", "petitions.levels", "OVOZ_PETITION_LEVELS", _petition_rules, {}),
    ("petition_sponsors", "petitions.sponsors", "OVOZ_PETITION_SPONSORS", _integer(1, 50), 5),
    ("petition_sponsor_days", "petitions.sponsor_days", "OVOZ_PETITION_SPONSOR_DAYS",
     _integer(1, 365), 30),
    ("petition_anonymise_days", "petitions.anonymise_days", "OVOZ_PETITION_ANONYMISE_DAYS",
     _integer(1, 3650), 183),
    ("deadline_counting", "accountability.counting", "OVOZ_DEADLINE_COUNTING",
     _one_of("calendar", "working"), "calendar"),
    ("working_weekdays", "accountability.working_weekdays", "OVOZ_WORKING_WEEKDAYS", _weekdays,
     [1, 2, 3, 4, 5]),
    ("public_holidays", "accountability.public_holidays", "OVOZ_PUBLIC_HOLIDAYS", _holidays,
     "seeds/holidays.csv"),
    ("escalate_after_days", "accountability.escalate_after_days", "OVOZ_ESCALATE_AFTER_DAYS",
     _integer(0, 60), 3),
)


def _lookup(document: Mapping[str, Any], dotted: str) -> Any:
    node: Any = document
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise SettingsError(f"OVOZ_CONFIG: no configuration file at {path}") from None
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"{path.name}: not valid TOML ({error})") from None


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the configuration file named by OVOZ_CONFIG (default litestar.toml), then the
    OVOZ_* variables; raise SettingsError naming the first bad key."""
    environ = os.environ if environ is None else environ
    config_path = Path(environ.get("OVOZ_CONFIG") or ROOT / "litestar.toml")
    if not config_path.is_absolute():
        config_path = ROOT / config_path
    document = _read_toml(config_path)
    values: dict[str, Any] = {}
    for field, key, env, parse, default in _OPTIONS:
        raw, source = environ.get(env), env
        if raw is None:
            raw, source = _lookup(document, key), key
        if raw is None:
            raw = default
        try:
            values[field] = parse(raw)
        except ValueError as expected:
            raise SettingsError(f"{source}: expected {expected}, got {raw!r}") from None
    settings = Settings(**values)
    if settings.oneid_enabled and not (settings.oneid_client_id and settings.oneid_client_secret):
        raise SettingsError(
            "oneid.client_id: OneID sign-in needs OVOZ_ONEID_CLIENT_ID and "
            "OVOZ_ONEID_CLIENT_SECRET"
        )
    if settings.sms_backend == "eskiz" and not (settings.eskiz_email and settings.eskiz_password):
        raise SettingsError(
            "sms.eskiz.email: the eskiz backend needs OVOZ_ESKIZ_EMAIL and OVOZ_ESKIZ_PASSWORD"
        )
    if settings.production:
        if settings.secret_key == DEVELOPMENT_SECRET_KEY or len(settings.secret_key) < 32:
            raise SettingsError(
                "site.secret_key: production mode needs your own secret of at least 32 "
                "characters (set OVOZ_SECRET_KEY)"
            )
        if settings.sms_backend == "console":
            raise SettingsError(
                "sms.backend: the console backend is for development; production mode needs "
                "a real gateway such as 'eskiz'"
            )
    return settings


@cache
def get_settings() -> Settings:
    return load_settings()
