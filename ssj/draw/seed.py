"""The seed of a draw and the seeds derived from it: public formulas, no secrets, no clock.

seed = SHA-256 over a length-prefixed encoding of every input, in a fixed order, so that no two
different input lists can encode alike. Strata and teams get their own seed strings, derived by
appending a label: anyone can recompute them from the recorded seed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

SEED_DOMAIN = "ssj-draw-seed/1"


def length_prefixed(parts: Sequence[str]) -> bytes:
    """Each part as an 8-byte big-endian byte length, then its UTF-8 bytes."""
    out = bytearray()
    for part in parts:
        data = part.encode("utf-8")
        out += len(data).to_bytes(8, "big") + data
    return bytes(out)


def nonce_commitment(nonce_hex: str) -> str:
    """The hash published at commit time; the nonce itself is revealed only with the seed.

    Only lower-case hex without spaces is accepted: `bytes.fromhex` ignores case and spaces, and
    the seed hashes the nonce's spelling, so otherwise one commitment would admit many spellings,
    each a different seed to choose from after the dice are known.
    """
    data = bytes.fromhex(nonce_hex)
    if data.hex() != nonce_hex:
        raise ValueError("the nonce must be lower-case hex without spaces")
    return hashlib.sha256(data).hexdigest()


def draw_seed(
    draw_id: str,
    commit_digest: str,
    nonce_hex: str,
    dice: Sequence[tuple[str, str]],
    drand_randomness: str | None,
) -> str:
    """The seed (64 hex digits) from the commit, the server nonce, every witness's dice
    (witness, digits) in the order the commit named the witnesses, and the drand randomness."""
    parts = [SEED_DOMAIN, draw_id, commit_digest, nonce_hex, str(len(dice))]
    for witness, digits in dice:
        parts += [witness, digits]
    parts.append(drand_randomness or "")
    return hashlib.sha256(length_prefixed(parts)).hexdigest()


def stratum_seed(seed: str, stratum: str) -> str:
    return f"{seed}/{stratum}"


def team_seed(seed: str, target: str) -> str:
    return f"{seed}/team/{target}"


def expert_seed(seed: str, target: str) -> str:
    return f"{seed}/expert/{target}"
