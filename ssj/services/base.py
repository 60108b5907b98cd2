"""What every application service shares: loading aggregates and saving them with the actor."""

from __future__ import annotations

from typing import Literal, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from ssj.errors import ConflictError, NotFoundError
from ssj.ledger.envelope import Actor
from ssj.services.context import Services

A = TypeVar("A", bound=Aggregate)

# What a command did: recorded something new, changed an entry, or found the identical record
# already there (a retried command) and wrote nothing.
Outcome = Literal["created", "updated", "unchanged"]


class Service:
    def __init__(self, services: Services) -> None:
        self.s = services

    def _get(self, cls: type[A], aggregate_id: UUID, what: str) -> A:
        try:
            found: object = self.s.ledger.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFoundError(f"{what} 不存在", f"{what} not found") from None
        assert isinstance(found, cls)
        return found

    def _find(self, cls: type[A], aggregate_id: UUID) -> A | None:
        """The aggregate, or None if there is none (to compare a new one with it)."""
        try:
            found: object = self.s.ledger.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        assert isinstance(found, cls)
        return found

    def _exists(self, aggregate_id: UUID) -> bool:
        try:
            self.s.ledger.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return False
        return True

    def _save(self, actor: Actor, *aggregates: Aggregate) -> None:
        """Save with the actor; a concurrent writer's change becomes a clear conflict."""
        try:
            self.s.ledger.save(*aggregates, actor=actor)
        except IntegrityError:
            raise ConflictError(
                "记录已被他人同时修改，请重试",
                "changed by someone else at the same time: try again",
            ) from None
