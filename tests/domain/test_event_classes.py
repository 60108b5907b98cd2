"""Explicit event classes keep stored bytes: fields in the order of the method's parameters.

eventsourcing writes an event's state in its field order, and the envelope signs the SHA-256 of
those bytes. Events were first declared as `@event("Name")`, whose class fields follow the
decorated method's parameters; the explicit classes (which let `case Department.Registered():`
type-check) must keep that order and their topic, or new events would be written differently.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil

import pytest
from eventsourcing.domain import Aggregate, CommandMethodDecorator
from eventsourcing.utils import get_topic

import ssj

BASE_FIELDS = ["originator_id", "originator_version", "timestamp"]


def decorated_methods() -> list[tuple[type, str, CommandMethodDecorator]]:
    found = []
    for info in pkgutil.walk_packages(ssj.__path__, "ssj."):
        if ".domain." not in info.name and ".ledger." not in info.name:
            continue
        module = importlib.import_module(info.name)
        for cls in vars(module).values():
            if not (isinstance(cls, type) and issubclass(cls, Aggregate)):
                continue
            if cls.__module__ != info.name:
                continue
            for name, value in vars(cls).items():
                if isinstance(value, CommandMethodDecorator):
                    found.append((cls, name, value))
    return found


METHODS = decorated_methods()


def test_every_event_is_declared_explicitly() -> None:
    assert len(METHODS) > 70
    names = [f"{cls.__qualname__}.{name}" for cls, name, d in METHODS if d.given_event_cls is None]
    assert names == [], "declare the event class and name it in @event(...)"


@pytest.mark.parametrize(
    ("cls", "method", "decorator"),
    METHODS,
    ids=[f"{c.__qualname__}.{m}" for c, m, _ in METHODS],
)
def test_fields_follow_the_method_parameters(
    cls: type, method: str, decorator: CommandMethodDecorator
) -> None:
    event_cls = getattr(cls, decorator.given_event_cls.__name__)
    assert get_topic(event_cls) == f"{cls.__module__}:{cls.__qualname__}.{event_cls.__name__}"
    params = list(inspect.signature(decorator.decorated_func).parameters)[1:]
    base = [*BASE_FIELDS, "originator_topic"] if method == "__init__" else BASE_FIELDS
    own = [p for p in params if p not in base]  # a parameter may reuse a base field (timestamp)
    assert [f.name for f in dataclasses.fields(event_cls)] == [*base, *own]
