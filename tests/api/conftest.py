"""The API tests hold the typed routers' response models to every key they send.

In production a response model keeps keys it does not name (`ssj.api.schemas.Schema`), so a
model that misses one only documents less than is sent. While these tests run, the models of
the routers in `STRICT_ROUTERS` and `STRICT_ROUTERS_B` forbid such keys: a response with a key
its model does not name fails its request (FastAPI's ResponseValidationError), in whichever
API test makes it.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable, Iterator

import pytest
from fastapi.routing import APIRoute
from pydantic import BaseModel

from ssj.api.app import _included_routes
from ssj.api.routers import (
    assessment,
    calendar,
    conflicts,
    departments,
    draws,
    feeds,
    followups,
    health,
    imports,
    inspectors,
    items,
    log,
    overdue,
    pages,
    plans,
    public,
    public_draws,
    public_results,
    subscribers,
    targets,
    tasks,
    tokens,
    trail,
    users,
)

STRICT_ROUTERS: tuple[types.ModuleType, ...] = (
    calendar,
    conflicts,
    departments,
    draws,
    followups,
    health,
    plans,
    tasks,
    tokens,
)
# The other half of issue 15 item 2 (tests/api/test_response_schemas_b.py checks its document).
STRICT_ROUTERS_B: tuple[types.ModuleType, ...] = (
    assessment,
    feeds,
    imports,
    inspectors,
    items,
    log,
    overdue,
    pages,
    public,
    public_draws,
    public_results,
    subscribers,
    targets,
    trail,
    users,
)


def _models_in(annotation: object) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in typing.get_args(annotation):
        yield from _models_in(arg)


def response_models(routers: Iterable[types.ModuleType]) -> list[type[BaseModel]]:
    """Every model the routers' responses are built of, each after the models it holds (the
    order to rebuild them in: a model's schema copies those of its fields when built)."""
    ordered: list[type[BaseModel]] = []

    def visit(model: type[BaseModel]) -> None:
        if model in ordered:
            return
        for info in model.model_fields.values():
            for inner in _models_in(info.annotation):
                if inner is not model:
                    visit(inner)
        ordered.append(model)

    for module in routers:
        for route in module.router.routes:
            if isinstance(route, APIRoute) and route.response_model is not None:
                for model in _models_in(route.response_model):
                    visit(model)
    return ordered


def _set_extra(models: list[type[BaseModel]], extra: typing.Any) -> dict[type, object]:
    before: dict[type, object] = {}
    for model in models:
        before[model] = model.model_config.get("extra")
        model.model_config["extra"] = extra
        model.model_rebuild(force=True)
    return before


@pytest.fixture(scope="session", autouse=True)
def strict_response_models() -> Iterator[list[type[BaseModel]]]:
    """Forbid unnamed keys for the whole session. Apps copy the models' validators when their
    process first includes the routes (`ssj.api.app._included_routes`, shared by its apps), so
    routes included before this, by another directory's test in this worker, are dropped."""
    models = response_models((*STRICT_ROUTERS, *STRICT_ROUTERS_B))
    before = _set_extra(models, "forbid")
    _included_routes.cache_clear()
    yield models
    for model in models:
        model.model_config["extra"] = before[model]  # type: ignore[typeddict-item]
        model.model_rebuild(force=True)
    _included_routes.cache_clear()
