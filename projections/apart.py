"""The second process of a rebuild (`projections.runner.Runner._rebuild_apart`): reads what to
replay from its standard input (pickled by the runner that started it) and exits 0 once the
scratch store holds it; any other exit leaves the scratch store unused."""

from __future__ import annotations

import pickle
import sys

from projections.runner import replay_apart


def main() -> None:
    settings, scratch, group, until = pickle.load(sys.stdin.buffer)
    replay_apart(settings, scratch, group, until)


if __name__ == "__main__":
    main()
