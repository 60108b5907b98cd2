"""Decoding stored events in bulk, for reading the log in seq order (projections, replays).

eventsourcing's mapper decodes a state with the standard library's JSON decoder and an object
hook called for every object; catching up read models spends most of its log-reading time there.
`EventDecoder` gives the same domain events from the same bytes: orjson parses, the transcodings
(`{"_type_": …, "_data_": …}`, bottom-up as the hook applies them) are revived only when the
bytes hold one, and each topic's class is resolved once. Where orjson would read a value other
than the standard library does (integers of 19 or more digits, which it turns into floats; lone
surrogates, NaN and infinities, which it refuses) the mapper's own decoder is used, as it is for
classes that upcast. Tested against the mapper over every event of a ledger
(tests/ledger/test_decoding.py).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, SafeUUID

import orjson
from eventsourcing.persistence import JSONTranscoder, Mapper, StoredEvent, Transcoding
from eventsourcing.utils import resolve_topic

# orjson reads an integer beyond 64 bits as a float; the standard library keeps it exact. A run
# of 19 digits anywhere (found by mapping every digit to 1 and searching: a regex costs more than
# the parse) sends the state to the standard decoder.
_DIGITS = bytes.maketrans(b"0123456789", b"1111111111")
_LONG = b"1" * 19
_TYPED = b'"_type_"'


class EventDecoder:
    """Stored event fields to domain events, as `Mapper.to_domain_event` would make them."""

    def __init__(self, mapper: Mapper[UUID]) -> None:
        self.mapper = mapper
        transcoder = mapper.transcoder
        self._names: dict[str, Transcoding] = (
            transcoder.names if isinstance(transcoder, JSONTranscoder) else {}
        )
        # Without a plain JSON transcoder (a cipher, a compressor, another transcoder) every
        # event goes through the mapper.
        self._fast = (
            isinstance(transcoder, JSONTranscoder)
            and mapper.cipher is None
            and mapper.compressor is None
        )
        self._classes: dict[str, type[Any] | None] = {}

    def _class(self, topic: str) -> type[Any] | None:
        """The event class of `topic` if its events can be built directly (no upcasting)."""
        try:
            return self._classes[topic]
        except KeyError:
            cls = resolve_topic(topic)
            direct = cls if getattr(cls, "class_version", 1) == 1 else None
            self._classes[topic] = direct
            return direct

    def state(self, data: bytes) -> dict[str, Any]:
        """The decoded state of an event: what the mapper's transcoder gives."""
        if not self._fast or _LONG in data.translate(_DIGITS):
            return self.mapper.transcoder.decode(data)  # type: ignore[no-any-return]
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            return self.mapper.transcoder.decode(data)  # type: ignore[no-any-return]
        typed = data.count(_TYPED)
        if typed:
            obj = self._revive_top(obj, typed)
        return obj  # type: ignore[no-any-return]

    def _revive_top(self, obj: Any, typed: int) -> Any:
        """Revive the transcoded values of the top level (an event's timestamp, its ids), and
        walk deeper only if the bytes may hold more: `typed`, the number of `"_type_"` in them,
        is an upper bound on the transcoded objects."""
        if type(obj) is not dict:
            return self._revive(obj)
        names = self._names
        for key, value in obj.items():
            if (
                type(value) is dict
                and len(value) == 2
                and "_type_" in value
                and type(value.get("_data_")) is str
            ):
                obj[key] = names[value["_type_"]].decode(value["_data_"])
                typed -= 1
                if not typed:
                    return obj
        return self._revive(obj)

    def _revive(self, value: Any) -> Any:
        """Apply the transcodings bottom-up, as the standard decoder's object hook does."""
        if isinstance(value, dict):
            value = {k: self._revive(v) for k, v in value.items()}
            if len(value) == 2 and "_type_" in value and "_data_" in value:
                return self._names[value["_type_"]].decode(value["_data_"])
            return value
        if isinstance(value, list):
            return [self._revive(v) for v in value]
        return value

    def event(self, originator_id: UUID | str, version: int, topic: str, data: bytes) -> Any:
        """The domain event of one stored event."""
        cls = self._class(topic) if self._fast else None
        state = None if cls is None else self.state(data)
        if cls is None or state is None or "class_version" in state:
            stored = StoredEvent(
                originator_id=originator_id,
                originator_version=version,
                topic=topic,
                state=data,
            )
            return self.mapper.to_domain_event(stored)
        state["originator_id"] = _uuid(originator_id)
        state["originator_version"] = version
        event = object.__new__(cls)
        object.__setattr__(event, "__dict__", state)
        return event


def _uuid(value: UUID | str) -> UUID:
    """`UUID(value)`, made directly from the canonical 36-character text the log's readers
    get (0.42 against 1.00 us an event: `UUID()` first strips prefixes and braces no stored id
    has); any other spelling goes through `UUID()`."""
    if isinstance(value, UUID):
        return value
    digits = value.replace("-", "")
    if len(value) != 36 or len(digits) != 32:
        return UUID(value)
    made = _new(UUID)
    _set(made, "int", int(digits, 16))
    _set(made, "is_safe", SafeUUID.unknown)
    return made


_new, _set = object.__new__, object.__setattr__
