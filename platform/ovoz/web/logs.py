"""Keeping secrets out of the server's logs: query strings can carry one-time codes (the
OneID callback) and typed text, so only the path is logged; in JSON, for a log collector, the
client's address is left out too."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any


class PathOnlyAccessLog(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        # uvicorn's access record: (client address, method, path with query, HTTP version, status)
        if isinstance(record.args, tuple) and len(record.args) == 5:
            client, method, full_path, version, status = record.args
            record.args = (client, method, str(full_path).split("?", 1)[0], version, status)
        return True


def quiet_access_log() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, PathOnlyAccessLog) for f in access.filters):
        access.addFilter(PathOnlyAccessLog())


class JsonFormatter(logging.Formatter):
    """One JSON object a line. An access record says method, path and status, never who."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(), "logger": record.name,
        }
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) \
                and len(record.args) == 5:
            _, method, path, _, status = record.args
            entry |= {"method": method, "path": str(path).split("?", 1)[0], "status": status}
        else:
            entry["message"] = record.getMessage()
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def uvicorn_log_config(log_format: str) -> dict[str, Any] | None:
    """uvicorn's logging for `ovoz serve`: its own for text, JSON lines otherwise."""
    if log_format != "json":
        return None
    handler = {"class": "logging.StreamHandler", "formatter": "json",
               "stream": "ext://sys.stdout"}
    return {
        "version": 1, "disable_existing_loggers": False,
        "formatters": {"json": {"()": "ovoz.web.logs.JsonFormatter"}},
        "handlers": {"default": handler},
        "root": {"handlers": ["default"], "level": "INFO"},
        "loggers": {name: {"handlers": ["default"], "level": "INFO", "propagate": False}
                    for name in ("uvicorn", "uvicorn.error", "uvicorn.access")},
    }
