"""A rebuild's second process that fails (`tests/projections/test_rebuild_apart.py`): with
`raises`, at once, by an exception; with `dies`, by `os._exit(9)` (as by `kill -9`) after it
committed two batches of 10 events to the scratch store."""

from __future__ import annotations

import os
import pickle
import sys
from collections.abc import Sequence

from projections import runner
from projections.apart import told
from projections.store import Cursor
from projections.trail import TrailProjection
from ssj.ledger.application import LoggedEvent


def main() -> None:
    settings, scratch = pickle.load(sys.stdin.buffer)
    if sys.argv[1] == "raises":
        raise RuntimeError("the second process fails")
    runner.BATCH = runner.LARGE_BATCH = 10
    apply = TrailProjection.apply_batch
    applied: list[int] = []

    def dying(self: TrailProjection, c: Cursor, events: Sequence[LoggedEvent]) -> None:
        if len(applied) == 2:
            os._exit(9)
        apply(self, c, events)
        applied.append(len(events))

    TrailProjection.apply_batch = dying  # type: ignore[method-assign]
    runner.replay_apart(settings, scratch, lambda: told(sys.stdin.buffer))


if __name__ == "__main__":
    main()
