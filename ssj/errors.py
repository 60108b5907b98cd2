"""Errors that officials read: every message in Chinese and English.

One error class per kind of failure, so that the CLI and the API can map them to exit codes and
HTTP statuses without parsing messages.
"""

from __future__ import annotations


class SsjError(Exception):
    """Base class: a message in Chinese and in English, and a stable machine-readable code."""

    code = "error"

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"{zh} / {en}")
        self.zh = zh
        self.en = en

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message_zh": self.zh, "message_en": self.en}


class ConfigurationError(SsjError):
    """Bad settings: a wrong database URL, a missing key directory."""

    code = "configuration"


class SigningKeyError(SsjError):
    """A signing key is missing, unreadable, malformed, unknown or revoked."""

    code = "key"


class SchemaError(SsjError):
    """The database is not initialised, or was written by a newer ssj."""

    code = "schema"


class ValidationError(SsjError):
    """Bad input from a user: nothing was written."""

    code = "validation"


class NotFoundError(SsjError):
    code = "not_found"


class UnavailableError(SsjError):
    """The server cannot answer now (a database or the read models unreachable or behind):
    nothing was decided; the same request may be retried later (HTTP 503)."""

    code = "unavailable"


class ConflictError(SsjError):
    """The command is valid but the current state forbids it."""

    code = "conflict"
