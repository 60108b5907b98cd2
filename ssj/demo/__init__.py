"""Demonstration data: a synthetic jurisdiction built through the real services and importers.

Only constants live here, so that the CLI can name the defaults without importing the services.
"""

from __future__ import annotations

DEFAULT_TARGETS = 20_000
DEFAULT_SEED = 2026
MIN_TARGETS = 100
