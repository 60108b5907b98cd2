"""Structured logs: one JSON object per line, for the API and the workers.

`configure()` is called once by a long-running command (`ssj serve`, `ssj projections run`,
workers). A record's extra fields (`logger.info("request", extra={"fields": {...}})`) become
keys of its line, so a log shipper can index request id, actor, route, status, duration and seq
without parsing text. `SSJ_LOG_FORMAT=text` gives plain lines for a terminal.
"""

from __future__ import annotations

import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any

import orjson


class JsonFormatter(logging.Formatter):
    def __init__(self, process: str) -> None:
        super().__init__()
        self.process_name = process

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "process": self.process_name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def configure(process: str, level: int = logging.INFO) -> None:
    """Send every log record to stderr, as JSON lines unless SSJ_LOG_FORMAT=text."""
    handler = logging.StreamHandler(sys.stderr)
    if os.environ.get("SSJ_LOG_FORMAT", "json").strip().lower() == "text":
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    else:
        handler.setFormatter(JsonFormatter(process))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # ssj logs each request itself
