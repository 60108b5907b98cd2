"""The ledger's last line of defence for text: no event is written that breaks the text policy.

Domain validators (`ssj.domain.fields`) refuse bad text field by field, with the field's name;
this mapper catches whatever reaches the ledger another way (a new command that forgot to
validate, a dict key, a label) before anything is signed or written. The check looks for a few
byte strings in the encoded bytes of each event (a regex only where one is found); only a
suspicious event is walked to name the bad value.

Reading is the other half: an event written before this check existed (or below the API) may
hold a character no read model can store; `escape_unstorable_state` gives the projections a copy
with such characters escaped, and names what it changed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Mapper, StoredEvent
from eventsourcing.utils import get_topic

from ssj.domain import text as policy
from ssj.domain.fields import FieldError

# Bytes that may encode a forbidden character in the JSON the transcoder writes (ensure_ascii
# off): \u00XX escapes of C0 controls, the short escapes \b \f \r, raw DEL, C1 controls,
# non-characters (U+FDD0-FDEF, U+xFFFE/U+xFFFF). A hit is only a suspicion (a literal backslash
# can look like an escape): the decoded value decides.
_SUSPECT = re.compile(
    rb"\\u00[01]|\\[bfr]|\x7f|\xc2[\x80-\x9f]|\xef\xb7[\x90-\xaf]|\xef\xbf[\xbe\xbf]"
    rb"|[\xf0-\xf4][\x80-\xbf]\xbf[\xbe\xbf]"
)


def suspect(state: bytes) -> bool:
    """Whether `state` may hold a character the text policy forbids (`_SUSPECT` matches).

    Every match of `_SUSPECT` holds one of the six byte strings searched first, by C's substring
    search: over a 600-byte target state ~6 us for all six, against 15-20 us for the regex
    (measured 2026-12-04); written out, not looped over, ~1.5 us less (2026-12-06)."""
    return (
        b"\\" in state
        or b"\x7f" in state
        or b"\xc2" in state
        or b"\xef\xb7" in state
        or b"\xbf\xbe" in state
        or b"\xbf\xbf" in state
    ) and _SUSPECT.search(state) is not None


# A JSON escape that decodes to a character no read model can store (NUL, a surrogate half).
_UNSTORABLE_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")


# (aggregate class, created-event class) -> the bytes after the timestamp up to the event's own
# fields, the event's topic, and the state's last bytes (`TextCheckingMapper.created`).
_CREATED_TOPICS: dict[tuple[type, type], tuple[bytes, str, bytes]] = {}


def _refuse(event_class: type, found: tuple[str, str, str]) -> FieldError:
    path, zh, en = found
    kind = event_class.__qualname__
    return FieldError(path, f"{zh}（{kind}）", f"{en} ({kind})")


class PreparedEvent:
    """A created event given in the form it is stored in (`TextCheckingMapper.created`): saved
    beside aggregates (`Ledger.save`), it is written as it is."""

    __slots__ = ("stored",)

    def __init__(self, stored: StoredEvent) -> None:
        self.stored = stored


class TextCheckingMapper(Mapper[UUID]):
    """eventsourcing's mapper, refusing events whose text breaks the policy."""

    def created(
        self,
        aggregate: type[Aggregate],
        event_class: type[Aggregate.Created],
        originator_id: UUID,
        fields: Sequence[tuple[str, bytes]],
    ) -> PreparedEvent:
        """The event `aggregate._create(event_class, id=originator_id, **values)` would make,
        as `to_stored_event` would store it, from the values already encoded: `fields` are
        (name, `orjson.dumps(value)`) in the order of the event class's fields, each value one
        the transcoder writes with orjson alike (`ssj.ledger.encoding`: text, whole numbers,
        booleans, None, lists, dicts with text keys). An import registers a million targets
        whose states it encoded when it checked them: decoding each, building its aggregate and
        encoding it again took twice as long (tested byte for byte against `to_stored_event`,
        tests/ledger/test_prepared.py)."""
        topics = _CREATED_TOPICS.get((aggregate, event_class))
        if topics is None:
            version = getattr(event_class, "class_version", 1)
            topics = _CREATED_TOPICS[(aggregate, event_class)] = (
                b',"originator_topic":' + orjson.dumps(get_topic(aggregate)),
                get_topic(event_class),
                b',"class_version":%d}' % version if version > 1 else b"}",
            )
        aggregate_topic, event_topic, end = topics
        parts = [
            b'{"timestamp":',
            self.transcoder.encode(event_class.create_timestamp()),
            aggregate_topic,
        ]
        for name, value in fields:
            parts += (b',"', name.encode(), b'":', value)
        parts.append(end)
        state = b"".join(parts)
        if suspect(state):
            found = policy.first_problem(self.transcoder.decode(state))
            if found is not None:
                raise _refuse(event_class, found)
        if self.compressor:
            state = self.compressor.compress(state)
        if self.cipher:
            state = self.cipher.encrypt(state)
        return PreparedEvent(StoredEvent(originator_id, 1, event_topic, state))

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        if type(domain_event) is PreparedEvent:
            return domain_event.stored
        try:
            stored = super().to_stored_event(domain_event)
        except UnicodeEncodeError:  # a lone surrogate cannot be written as UTF-8
            found = policy.first_problem(vars(domain_event))
            if found is None:
                raise
            raise _refuse(type(domain_event), found) from None
        if suspect(stored.state):
            found = policy.first_problem(vars(domain_event))
            if found is not None:
                raise _refuse(type(domain_event), found)
        return stored

    @staticmethod
    def may_need_escaping(state: bytes) -> bool:
        """Whether `state` may hold a character no read model can store (a cheap test)."""
        return _UNSTORABLE_ESCAPE.search(state) is not None

    def escape_unstorable_state(self, stored: StoredEvent) -> tuple[StoredEvent, list[str]]:
        """`stored` with every unstorable character escaped, and the paths changed (empty, and
        `stored` itself, when there is nothing to escape)."""
        if not _UNSTORABLE_ESCAPE.search(stored.state):
            return stored, []
        changed: list[str] = []
        state = policy.escape_all(self.transcoder.decode(stored.state), found=changed)
        if not changed:
            return stored, []
        return (
            StoredEvent(
                originator_id=stored.originator_id,
                originator_version=stored.originator_version,
                topic=stored.topic,
                state=self.transcoder.encode(state),
            ),
            changed,
        )
