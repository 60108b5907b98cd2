"""PostgreSQL set-up for production: schema, tables, an owner role and a runtime role.

The owner role owns every object; the runtime role (what the application logs in as) gets only
SELECT and INSERT on the ledger tables, so even a compromised application cannot update, delete
or truncate history. Run once, as a database administrator, before starting the application
with table creation off (the default for PostgreSQL URLs).
"""

from __future__ import annotations

import contextlib
from dataclasses import replace

import psycopg
from psycopg import sql

from ssj.config import DatabaseURL, Settings
from ssj.errors import ConfigurationError
from ssj.ledger.postgres import ENVELOPES, META, NODES


def connect(db: DatabaseURL) -> psycopg.Connection:
    """An autocommit connection for administration and read models (not the ledger's pool)."""
    try:
        return psycopg.connect(
            host=db.host,
            port=db.port,
            user=db.user,
            password=db.password or None,
            dbname=db.dbname,
            autocommit=True,
            connect_timeout=5,
        )
    except psycopg.Error as e:
        raise ConfigurationError(
            f"无法连接数据库 {db.redacted()}：{e}", f"cannot connect to {db.redacted()}: {e}"
        ) from None


def _ensure_role(conn: psycopg.Connection, role: str, *, login: bool) -> None:
    found = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
    if found is None:
        # Roles are cluster-wide: another migration may create the same one concurrently.
        with contextlib.suppress(psycopg.errors.DuplicateObject, psycopg.errors.UniqueViolation):
            conn.execute(
                sql.SQL("CREATE ROLE {} " + ("LOGIN" if login else "NOLOGIN")).format(
                    sql.Identifier(role)
                )
            )


def migrate(settings: Settings, owner: str = "ssj_owner", runtime: str = "ssj_app") -> list[str]:
    """Create (idempotently) roles, schema, tables and grants; returns what it did, for the log."""
    from ssj.ledger.application import Ledger

    db = settings.database
    if not db.is_postgres:
        raise ConfigurationError(
            "迁移命令仅用于 PostgreSQL；SQLite 在首次使用时自动建表",
            "migrate is for PostgreSQL only; SQLite creates its tables on first use",
        )
    done: list[str] = []
    with connect(db) as conn:
        _ensure_role(conn, owner, login=False)
        _ensure_role(conn, runtime, login=True)
        done.append(f"roles {owner} (owner), {runtime} (runtime)")
        schema = sql.Identifier(db.schema)
        conn.execute(
            sql.SQL("CREATE SCHEMA IF NOT EXISTS {} AUTHORIZATION {}").format(
                schema, sql.Identifier(owner)
            )
        )
        # Create the tables with the application's own DDL, then hand them to the owner.
        ledger = Ledger(replace(settings, create_tables=True))
        events_table = ledger.ledger_recorder.events_table_name
        del ledger
        tables = [events_table, ENVELOPES, NODES, META]
        own = sql.Identifier(owner)
        run = sql.Identifier(runtime)
        for table in tables:
            t = sql.SQL("{}.{}").format(schema, sql.Identifier(table))
            conn.execute(sql.SQL("ALTER TABLE {} OWNER TO {}").format(t, own))
            conn.execute(sql.SQL("REVOKE ALL ON {} FROM PUBLIC, {}").format(t, run))
            conn.execute(sql.SQL("GRANT SELECT, INSERT ON {} TO {}").format(t, run))
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, run))
        seq = conn.execute(
            "SELECT pg_get_serial_sequence(%s, 'notification_id')",
            (f'"{db.schema}"."{events_table}"',),
        ).fetchone()
        if seq and seq[0]:
            conn.execute(sql.SQL("ALTER SEQUENCE {} OWNER TO {}").format(sql.SQL(seq[0]), own))
            conn.execute(sql.SQL("GRANT USAGE ON SEQUENCE {} TO {}").format(sql.SQL(seq[0]), run))
        # The library's insert function bypasses the chained recorder: nobody may call it.
        for (signature,) in conn.execute(
            "SELECT p.oid::regprocedure::text FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = %s AND p.proname LIKE 'es_insert_events_%%'",
            (db.schema,),
        ).fetchall():
            conn.execute(
                sql.SQL("REVOKE EXECUTE ON FUNCTION {} FROM PUBLIC").format(sql.SQL(signature))
            )
        # Read models are rebuildable, not history: the runtime role owns their schema.
        views = sql.Identifier(f"{db.schema}_views")
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {} AUTHORIZATION {}").format(views, run))
        done.append(f"schema {db.schema}: tables {', '.join(tables)} owned by {owner}")
        done.append(f"schema {db.schema}_views: projections, owned by {runtime}")
        # Trigram indexes let the public name search find a few targets among many without
        # reading every name (projections.versioned). Optional: without the contrib package
        # the search still works, by reading every current row.
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            done.append("extension pg_trgm: trigram indexes for name search")
        except psycopg.Error as e:
            done.append(f"extension pg_trgm not available ({e}): name search reads every row")
        done.append(f"{runtime}: SELECT, INSERT only (no UPDATE, DELETE, TRUNCATE)")
    return done
