"""Prometheus metrics (`prometheus-client`) that any ssj process updates.

Counters and histograms live here so that services can count without knowing about HTTP. Under
`ssj serve --workers N` every worker writes to `PROMETHEUS_MULTIPROC_DIR` (set by `ssj serve`)
and `/metrics` adds them up. What the database knows — ledger head, projection seqs,
checkpoint age, replica lag — is read when scraped (`ssj.api.routers.health`), never counted.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from ssj.errors import SigningKeyError, SsjError

REQUEST_SECONDS = Histogram(
    "ssj_http_request_duration_seconds",
    "HTTP request latency by route template, method and status",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
ERRORS = Counter("ssj_errors", "Errors answered, by code", ["code"])
SIGNATURE_FAILURES = Counter(
    "ssj_signature_failures",
    "Signing failures (key missing or unusable) and signatures found invalid when read",
    ["kind"],
)
IMPORT_ROWS = Counter(
    "ssj_import_rows", "Rows of imported files, by kind and outcome", ["kind", "outcome"]
)
PROJECTED_EVENTS = Counter(
    "ssj_projected_events", "Events applied to the read models by this process"
)


def count_error(error: SsjError) -> None:
    ERRORS.labels(error.code).inc()
    if isinstance(error, SigningKeyError):
        SIGNATURE_FAILURES.labels("signing").inc()


def count_import_rows(kind: str, outcomes: dict[str, int]) -> None:
    """Rows of one imported file by outcome: created, updated, unchanged, rejected (left out
    under skip_invalid), checked (a dry run), refused (a file not written for its problems)."""
    for outcome, n in outcomes.items():
        if n:
            IMPORT_ROWS.labels(kind, outcome).inc(n)


def count_verification_failures(n: int) -> None:
    """Signatures (or what they seal) found wrong when read, e.g. rows of the audit trail."""
    if n:
        SIGNATURE_FAILURES.labels("verification").inc(n)
