"""Settings from the environment, and the translation of `SSJ_DATABASE_URL` for eventsourcing.

`SSJ_DATABASE_URL` is the one switch between the embedded default (`sqlite:///path`) and
production (`postgresql://user:password@host:port/dbname?schema=...`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

from ssj.errors import ConfigurationError

DEFAULT_CHECKPOINT_EVERY_EVENTS = 1000
DEFAULT_CHECKPOINT_EVERY_SECONDS = 3600.0
DEFAULT_LOCK_TIMEOUT_SECONDS = 10
KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30
# Refusals, rate limits and safe retries (issue #16): see docs/operators/setup.md, "Configuration".
DEFAULT_REFUSAL_WINDOW_SECONDS = 60
DEFAULT_RATE_LIMIT_PER_MINUTE = 1200
DEFAULT_RATE_LIMIT_BURST = 100
DEFAULT_RATE_LIMIT_ANONYMOUS_PER_MINUTE = 600
DEFAULT_IDEMPOTENCY_RETENTION_SECONDS = 86400
DEFAULT_IDEMPOTENCY_LEASE_SECONDS = 300


def default_data_dir(environ: Mapping[str, str]) -> Path:
    if environ.get("SSJ_DATA_DIR"):
        return Path(environ["SSJ_DATA_DIR"]).expanduser()
    base = environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base).expanduser() / "ssj"


@dataclass(frozen=True)
class DatabaseURL:
    """A parsed `SSJ_DATABASE_URL`."""

    scheme: str  # "sqlite" or "postgresql"
    path: str = ""  # sqlite file
    host: str = ""
    port: int = 5432
    user: str = ""
    password: str = ""
    dbname: str = ""
    schema: str = "public"

    @property
    def is_postgres(self) -> bool:
        return self.scheme == "postgresql"

    @classmethod
    def parse(cls, url: str) -> DatabaseURL:
        bad = ConfigurationError(
            f"数据库地址无效：{url!r}（应为 sqlite:///路径 或 postgresql://用户@主机:端口/库名）",
            f"invalid database URL {url!r} (expected sqlite:///path or "
            "postgresql://user@host:port/dbname)",
        )
        try:
            parts = urlsplit(url)
        except ValueError:
            raise bad from None
        if parts.scheme == "sqlite":
            # sqlite:///abs/path and sqlite:////abs/path are absolute; sqlite:///./rel is relative.
            path = unquote(url[len("sqlite://") :].split("?", 1)[0])
            if path.startswith("//"):
                path = path[1:]
            if path.startswith(("/./", "/../")):
                path = path[1:]
            if not path.startswith(("/", ".")) or path.rstrip("/") in ("", "."):
                raise bad
            return cls(scheme="sqlite", path=path)
        if parts.scheme in ("postgresql", "postgres"):
            dbname = unquote(parts.path.lstrip("/"))
            if not dbname:
                raise bad
            query = parse_qs(parts.query)
            try:
                port = parts.port or 5432
            except ValueError:
                raise bad from None
            host = unquote(parts.hostname or "") or query.get("host", [""])[0] or "127.0.0.1"
            return cls(
                scheme="postgresql",
                host=host,
                port=port,
                user=unquote(parts.username or "") or os.environ.get("USER", "postgres"),
                password=unquote(parts.password or ""),
                dbname=dbname,
                schema=query.get("schema", ["public"])[0],
            )
        raise bad

    def url(self) -> str:
        """The URL again, password included: for child processes, never for logs."""
        if not self.is_postgres:
            return f"sqlite:///{self.path}"
        auth = quote(self.user, safe="") + (
            f":{quote(self.password, safe='')}" if self.password else ""
        )
        query = f"?schema={quote(self.schema)}" if self.schema != "public" else ""
        return f"postgresql://{auth}@{self.host}:{self.port}/{quote(self.dbname)}{query}"

    def redacted(self) -> str:
        if self.is_postgres:
            return f"postgresql://{self.user}@{self.host}:{self.port}/{self.dbname}"
        return f"sqlite:///{self.path}"


def _int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(
            f"环境变量 {name} 应为整数，实际为 {raw!r}",
            f"environment variable {name} must be an integer, got {raw!r}",
        ) from None
    if value < 0:
        raise ConfigurationError(
            f"环境变量 {name} 不能为负数", f"environment variable {name} must not be negative"
        )
    return value


def _bool(environ: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "y", "yes", "true", "on"):
        return True
    if raw in ("0", "n", "no", "false", "off"):
        return False
    raise ConfigurationError(
        f"环境变量 {name} 应为 yes 或 no，实际为 {raw!r}",
        f"environment variable {name} must be yes or no, got {raw!r}",
    )


@dataclass(frozen=True)
class ImportLimits:
    """How much an imported file may make the reader do: checked while streaming, so a small
    crafted file is refused after a bounded amount of work instead of exhausting the server.

    The defaults admit a real 1,000,000-row registry (ssj's own export of that size is about
    800 MB of sheet XML) through the command line; the API takes smaller uploads by default.
    Rows, columns and cell length default to Excel's own limits.
    """

    upload_bytes: int = 100 * MIB  # API uploads, counted while receiving
    file_bytes: int = 2 * GIB  # the file on disk (command line and import jobs)
    rows: int = 1_048_576
    columns: int = 1_024
    cell_chars: int = 32_767
    member_bytes: int = 1 * GIB  # one XLSX part, counted while inflating
    unzipped_bytes: int = 2 * GIB  # every part read, together
    ratio: int = 100  # inflated / compressed for one part (0: unchecked), as Apache POI
    shared_strings: int = 10_000_000
    merged_ranges: int = 100_000
    problems: int = 1_000  # checking stops after this many problems
    workers: int = 2  # import processes at once per API process

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ImportLimits:
        defaults = cls()
        values = {
            name: _int(environ, var, getattr(defaults, name)) for name, var in IMPORT_ENV.items()
        }
        for name in ("rows", "columns", "cell_chars", "problems", "workers"):
            if values[name] < 1:
                raise ConfigurationError(
                    f"环境变量 {IMPORT_ENV[name]} 应至少为 1",
                    f"environment variable {IMPORT_ENV[name]} must be at least 1",
                )
        return cls(**values)

    def to_env(self) -> dict[str, str]:
        return {var: str(getattr(self, name)) for name, var in IMPORT_ENV.items()}


IMPORT_ENV = {
    "upload_bytes": "SSJ_IMPORT_MAX_UPLOAD_BYTES",
    "file_bytes": "SSJ_IMPORT_MAX_FILE_BYTES",
    "rows": "SSJ_IMPORT_MAX_ROWS",
    "columns": "SSJ_IMPORT_MAX_COLUMNS",
    "cell_chars": "SSJ_IMPORT_MAX_CELL_CHARS",
    "member_bytes": "SSJ_IMPORT_MAX_MEMBER_BYTES",
    "unzipped_bytes": "SSJ_IMPORT_MAX_UNZIPPED_BYTES",
    "ratio": "SSJ_IMPORT_MAX_RATIO",
    "shared_strings": "SSJ_IMPORT_MAX_SHARED_STRINGS",
    "merged_ranges": "SSJ_IMPORT_MAX_MERGED_RANGES",
    "problems": "SSJ_IMPORT_MAX_PROBLEMS",
    "workers": "SSJ_IMPORT_WORKERS",
}


def _read_database(environ: Mapping[str, str], primary: DatabaseURL) -> DatabaseURL | None:
    raw = environ.get("SSJ_READ_DATABASE_URL", "").strip()
    if not raw:
        return None
    found = DatabaseURL.parse(raw)
    if not (found.is_postgres and primary.is_postgres) or found.schema != primary.schema:
        raise ConfigurationError(
            "SSJ_READ_DATABASE_URL 应为 SSJ_DATABASE_URL 的 PostgreSQL 流复制副本（同一 schema）",
            "SSJ_READ_DATABASE_URL must be a PostgreSQL streaming replica of SSJ_DATABASE_URL "
            "(same schema)",
        )
    return found


@dataclass(frozen=True)
class Settings:
    """Everything a ledger process needs to know; built once per process from the environment."""

    database: DatabaseURL
    data_dir: Path
    keys_dir: Path
    log_origin: str = "ssj.local/ledger"
    checkpoint_every_events: int = DEFAULT_CHECKPOINT_EVERY_EVENTS
    checkpoint_every_seconds: float = DEFAULT_CHECKPOINT_EVERY_SECONDS
    lock_timeout_seconds: int = DEFAULT_LOCK_TIMEOUT_SECONDS
    create_tables: bool = True
    extra_env: Mapping[str, str] = field(default_factory=dict)
    imports: ImportLimits = field(default_factory=ImportLimits)
    # SSJ_READ_DATABASE_URL: a streaming replica of `database` that serves reads (API reads,
    # read-model queries, `ssj verify --read-only`); writes always go to `database`.
    read_database: DatabaseURL | None = None
    # Identical refusals by one principal within this many seconds are one event (0: each).
    refusal_window_seconds: int = DEFAULT_REFUSAL_WINDOW_SECONDS
    # Requests per minute per API token, and per client address without one (0: no limit).
    rate_limit_per_minute: int = DEFAULT_RATE_LIMIT_PER_MINUTE
    rate_limit_burst: int = DEFAULT_RATE_LIMIT_BURST
    rate_limit_anonymous_per_minute: int = DEFAULT_RATE_LIMIT_ANONYMOUS_PER_MINUTE
    # How long an Idempotency-Key's answer is kept, and how long a claim may run.
    idempotency_retention_seconds: int = DEFAULT_IDEMPOTENCY_RETENTION_SECONDS
    idempotency_lease_seconds: int = DEFAULT_IDEMPOTENCY_LEASE_SECONDS

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        data_dir = default_data_dir(env)
        url = env.get("SSJ_DATABASE_URL", "").strip() or f"sqlite:///{data_dir / 'ssj.sqlite'}"
        database = DatabaseURL.parse(url)
        keys_dir = Path(env.get("SSJ_KEYS_DIR", "") or data_dir / "keys").expanduser()
        origin = env.get("SSJ_LOG_ORIGIN", "").strip() or "ssj.local/ledger"
        if any(c.isspace() for c in origin) or "+" in origin:
            raise ConfigurationError(
                f"日志来源名 SSJ_LOG_ORIGIN 不能含空白或“+”：{origin!r}",
                f"SSJ_LOG_ORIGIN must not contain whitespace or '+': {origin!r}",
            )
        return cls(
            database=database,
            data_dir=data_dir,
            keys_dir=keys_dir,
            log_origin=origin,
            checkpoint_every_events=_int(
                env, "SSJ_CHECKPOINT_EVERY_EVENTS", DEFAULT_CHECKPOINT_EVERY_EVENTS
            ),
            checkpoint_every_seconds=float(
                _int(env, "SSJ_CHECKPOINT_EVERY_SECONDS", int(DEFAULT_CHECKPOINT_EVERY_SECONDS))
            ),
            lock_timeout_seconds=_int(env, "SSJ_LOCK_TIMEOUT", DEFAULT_LOCK_TIMEOUT_SECONDS),
            # Production PostgreSQL is migrated by `ssj db migrate` and runs without DDL.
            create_tables=_bool(env, "SSJ_CREATE_TABLES", default=not database.is_postgres),
            imports=ImportLimits.from_env(env),
            read_database=_read_database(env, database),
            refusal_window_seconds=_int(
                env, "SSJ_REFUSAL_WINDOW_SECONDS", DEFAULT_REFUSAL_WINDOW_SECONDS
            ),
            rate_limit_per_minute=_int(env, "SSJ_RATE_LIMIT", DEFAULT_RATE_LIMIT_PER_MINUTE),
            rate_limit_burst=max(1, _int(env, "SSJ_RATE_LIMIT_BURST", DEFAULT_RATE_LIMIT_BURST)),
            rate_limit_anonymous_per_minute=_int(
                env, "SSJ_RATE_LIMIT_ANONYMOUS", DEFAULT_RATE_LIMIT_ANONYMOUS_PER_MINUTE
            ),
            idempotency_retention_seconds=_int(
                env, "SSJ_IDEMPOTENCY_RETENTION_SECONDS", DEFAULT_IDEMPOTENCY_RETENTION_SECONDS
            ),
            idempotency_lease_seconds=max(
                1, _int(env, "SSJ_IDEMPOTENCY_LEASE_SECONDS", DEFAULT_IDEMPOTENCY_LEASE_SECONDS)
            ),
        )

    def to_env(self) -> dict[str, str]:
        """The environment that gives these settings again in a child process (`from_env`).
        It holds the database password: pass it to processes, never to logs."""
        return {
            **self.extra_env,
            "SSJ_DATABASE_URL": self.database.url(),
            "SSJ_DATA_DIR": str(self.data_dir),
            "SSJ_KEYS_DIR": str(self.keys_dir),
            "SSJ_LOG_ORIGIN": self.log_origin,
            "SSJ_CHECKPOINT_EVERY_EVENTS": str(self.checkpoint_every_events),
            "SSJ_CHECKPOINT_EVERY_SECONDS": str(int(self.checkpoint_every_seconds)),
            "SSJ_LOCK_TIMEOUT": str(self.lock_timeout_seconds),
            "SSJ_CREATE_TABLES": "yes" if self.create_tables else "no",
            **self.imports.to_env(),
            **({"SSJ_READ_DATABASE_URL": self.read_database.url()} if self.read_database else {}),
            "SSJ_REFUSAL_WINDOW_SECONDS": str(self.refusal_window_seconds),
            "SSJ_RATE_LIMIT": str(self.rate_limit_per_minute),
            "SSJ_RATE_LIMIT_BURST": str(self.rate_limit_burst),
            "SSJ_RATE_LIMIT_ANONYMOUS": str(self.rate_limit_anonymous_per_minute),
            "SSJ_IDEMPOTENCY_RETENTION_SECONDS": str(self.idempotency_retention_seconds),
            "SSJ_IDEMPOTENCY_LEASE_SECONDS": str(self.idempotency_lease_seconds),
        }
