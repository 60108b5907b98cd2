"""The second process of a rebuild (`projections.runner.SecondProcess`): reads from its
standard input, pickled by the runner that started it, the ledger's settings and scratch store
at once, and what to replay once the rebuild has emptied the read models; exits 0 once that is
replayed, or at once if its input ends before (the rebuild went on in one process). Any other
exit leaves the scratch store unused."""

from __future__ import annotations

import pickle
import sys
from collections.abc import Sequence
from typing import BinaryIO

from projections.runner import Projection, replay_apart


def told(stdin: BinaryIO) -> tuple[Sequence[Projection], int] | None:
    """The projections to replay and the seq to replay them to, or None: told nothing."""
    try:
        group, until = pickle.load(stdin)
    except EOFError:
        return None
    return group, until


def main() -> None:
    stdin = sys.stdin.buffer
    settings, scratch = pickle.load(stdin)
    replay_apart(settings, scratch, lambda: told(stdin))


if __name__ == "__main__":
    main()
