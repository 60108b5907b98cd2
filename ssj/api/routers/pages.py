"""The public web page of 一公开: server-rendered HTML in Chinese, no token, no JavaScript.

`/` (or `/gongshi`) searches targets by name or identifier and links to the published plans and
the draws' drawn lists; a target's page lists its published inspection results. Plans and draws
come through the public JSON endpoints (`public.public_plans`, `public.public_plan`,
`public_draws.public_draws`), so the page never shows more than `/public/…` does; what a result
shows, and never shows, is `ssj.services.public_results`' rule. Output is escaped by Jinja2's
autoescape, and a Content-Security-Policy forbids scripts outright. Lists have 50 rows a page.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from projections.registry import MAX_LIMIT
from ssj.api.deps import ServicesDep, Window, read_at
from ssj.api.routers import public, public_draws
from ssj.errors import NotFoundError
from ssj.services import draw_records as records
from ssj.services import public_results as published

# Pages for people (/public/… serves the same data as JSON): documented as the HTML they are,
# a missing target, plan or draw answering the not-found page.
router = APIRouter(
    tags=["公开 / Public"],
    responses={
        200: {"description": "HTML 页面 / an HTML page"},
        404: {
            "description": "不存在（页面）/ not found (a page)",
            "content": {"text/html": {"schema": {"type": "string"}}},
        },
    },
)

PAGE_SIZE = published.PAGE_SIZE
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
templates = Jinja2Templates(
    env=Environment(
        loader=FileSystemLoader(Path(__file__).resolve().parent.parent / "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
)
templates.env.filters["seg"] = lambda value: quote(str(value), safe="")  # one path segment

PageNo = Annotated[int, Query(ge=1, le=1_000_000, description="页码 / page number")]
Search = Annotated[str, Query(max_length=100, description="名称或统一社会信用代码 / name or id")]


def _render(
    request: Request, template: str, seq: int, status_code: int = 200, **context: Any
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        template,
        {"as_of": seq, **context},
        status_code=status_code,
        headers={"Content-Security-Policy": CSP},
    )


def _not_found(request: Request, seq: int, what: str) -> HTMLResponse:
    return _render(request, "not_found.html", seq, status_code=404, what=what)


def _pager(request: Request, page: int, total: int) -> dict[str, Any]:
    pages = max(1, math.ceil(total / PAGE_SIZE))
    url = request.url
    return {
        "page": page,
        "pages": pages,
        "total": total,
        "first": (page - 1) * PAGE_SIZE + 1,
        "previous": str(url.include_query_params(page=page - 1)) if page > 1 else None,
        "next": str(url.include_query_params(page=page + 1)) if page < pages else None,
    }


def _window(page: int, at_seq: int | None = None, limit: int = PAGE_SIZE) -> Window:
    return Window(offset=(page - 1) * limit, limit=limit, at_seq=at_seq, search=None)


@router.get("/", response_class=HTMLResponse)
@router.get("/gongshi", response_class=HTMLResponse)
def home(request: Request, services: ServicesDep) -> HTMLResponse:
    seq = read_at(services, None)
    plans = public.public_plans(services, _window(1, seq, 10), department=None, year=None)
    draws = published.latest_draws(services, seq, 10)
    return _render(request, "home.html", seq, plans=plans, draws=draws)


@router.get("/gongshi/search", response_class=HTMLResponse)
def search(
    request: Request, services: ServicesDep, q: Search = "", page: PageNo = 1
) -> HTMLResponse:
    seq = read_at(services, None)
    found = published.search_targets(services, q, (page - 1) * PAGE_SIZE, PAGE_SIZE, seq)
    pager = _pager(request, page, found.total)
    return _render(request, "search.html", seq, q=q.strip(), rows=found.rows, pager=pager)


@router.get("/gongshi/targets/{public_id}", response_class=HTMLResponse)
def target(request: Request, services: ServicesDep, public_id: str) -> HTMLResponse:
    seq = read_at(services, None)
    found = published.targets_named(services, public_id, seq)
    if not found:
        return _not_found(request, seq, f"检查对象 {public_id}")
    shown = [
        {
            "public_id": published.public_id(t),
            "name": t.get("name"),
            "results": published.history(services, t["identifier"], seq),
        }
        for t in found
    ]
    return _render(request, "target.html", seq, targets=shown)


@router.get("/gongshi/plans", response_class=HTMLResponse)
def plans(
    request: Request,
    services: ServicesDep,
    page: PageNo = 1,
    year: Annotated[int | None, Query(ge=2000, le=2100, description="年度 / year")] = None,
) -> HTMLResponse:
    listed = public.public_plans(services, _window(page), department=None, year=year)
    pager = _pager(request, page, listed["total"])
    return _render(
        request, "plans.html", listed["as_of"], rows=listed["items"], pager=pager, year=year
    )


@router.get("/gongshi/plans/{department}/{code}", response_class=HTMLResponse)
def plan(request: Request, services: ServicesDep, department: str, code: str) -> HTMLResponse:
    seq = read_at(services, None)
    try:
        shown = public.public_plan(services, department, code, at_seq=seq)["plan"]
    except NotFoundError:
        return _not_found(request, seq, f"抽查计划 {department}/{code}")
    draws = public_draws.public_draws(
        services,
        _window(1, seq, MAX_LIMIT),
        plan=f"{department}/{code}",
        department=None,
        status=None,
    )
    return _render(
        request,
        "plan.html",
        seq,
        plan=shown,
        fields=published.plan_fields(services, shown, seq),
        draws=draws["items"],
    )


@router.get("/gongshi/draws", response_class=HTMLResponse)
def draws(request: Request, services: ServicesDep, page: PageNo = 1) -> HTMLResponse:
    listed = public_draws.public_draws(
        services, _window(page), plan=None, department=None, status=None
    )
    pager = _pager(request, page, listed["total"])
    return _render(request, "draws.html", listed["as_of"], rows=listed["items"], pager=pager)


@router.get("/gongshi/draws/{draw_id}", response_class=HTMLResponse)
def draw(request: Request, services: ServicesDep, draw_id: str, page: PageNo = 1) -> HTMLResponse:
    seq = read_at(services, None)
    try:
        row = published.public_draw_row(services, draw_id, seq)
    except NotFoundError:
        return _not_found(request, seq, f"抽取 {draw_id}")
    found = published.drawn_page(services, row, (page - 1) * PAGE_SIZE, PAGE_SIZE, seq)
    strata = [{**s, "label": records.stratum_label(s["name"])} for s in row.get("strata") or ()]
    return _render(
        request,
        "draw.html",
        seq,
        draw=records.public_summary(row),
        departments=published.department_names(services, seq),
        strata=strata,
        rows=found.rows,
        pager=_pager(request, page, found.total),
    )
