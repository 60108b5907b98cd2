"""Response models shared by the routers: the page envelope, a single read, a write's answer.

They describe, for the OpenAPI document and generated clients, the JSON the endpoints already
send; they do not change it. Routers return plain dicts and declare these (or router-specific
models built on `Schema`) as `response_model`, with `response_model_exclude_unset=True` so a key
the code leaves out stays out (it is not sent as null). A model must name every key its endpoint
returns, or FastAPI drops the key: tests/api/test_response_schemas_a.py forbids extra keys while
it validates real responses, so a missing field fails there.

Concrete models are named subclasses (`class DepartmentPage(Page[DepartmentRow])`) so the
OpenAPI document has readable schema names. Numbers that may be whole are `int | float`: a
`float` field would turn 3 into 3.0 and change the bytes clients receive.
"""

from __future__ import annotations

from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

Outcome = Literal["created", "updated", "unchanged"]
OUTCOME = (
    "created：新登记；updated：记录了变化；unchanged：相同记录已存在，未写入 / created: newly "
    "registered; updated: a change was recorded; unchanged: identical already, nothing written"
)
SEQ = "写入之后的账本末尾序号 / the ledger head (seq) after the write"
AS_OF = "读取所依据的账本序号 / the ledger seq this read shows the state at"


class Schema(BaseModel):
    """Base of every response model: keys are described, extra keys are kept (never dropped
    silently in production; the schema test forbids them to find what a model misses)."""

    model_config = ConfigDict(extra="allow")


RowT = TypeVar("RowT")


class Page(Schema, Generic[RowT]):
    """One page of a list, pinned to a ledger seq (`deps.render_page`)."""

    total: int = Field(description="符合条件的总条数 / rows matching, all pages")
    offset: int = Field(description="跳过的条数 / rows skipped")
    limit: int = Field(description="每页条数 / page size")
    as_of: int = Field(description=AS_OF)
    items: list[RowT] = Field(description="本页的记录 / this page's rows")


class Shown(Schema, Generic[RowT]):
    """One entry as of a ledger seq: `{"as_of", "item"}`."""

    as_of: int = Field(description=AS_OF)
    item: RowT = Field(description="记录 / the entry")


class Written(Schema, Generic[RowT]):
    """A registry write's answer (`deps.written`): outcome, ledger head, the entry as now read."""

    outcome: Outcome = Field(description=OUTCOME)
    seq: int = Field(description=SEQ)
    item: RowT = Field(description="写入后的记录 / the entry as now read")


class Actor(Schema):
    """Who did something, as the ledger's envelope records it."""

    user: str = Field(description="用户名 / username")
    department: str = Field(description="部门编码 / department code")
    role: str = Field(description="以何种角色 / acting role")
