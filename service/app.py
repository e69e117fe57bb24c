"""The HTTP side of Glean: an app factory, so nothing is configured at import time."""

from __future__ import annotations

import logging
import re
from contextlib import asynccontextmanager
from dataclasses import asdict
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import Depends, FastAPI, Form, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field, field_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

from pipelines import health
from pipelines.paper_ids import resolve_paper_id
from pipelines.reading import add_reads, reference_for
from pipelines.settings import Settings
from pipelines.store import Store
from pipelines.store_users import User

from .accounts import AccountError, clean_fields, rotate_token, user_for_token
from .breadth import breadth_report
from .digest import signer_for, today_for
from .feedback import ACTIONS, apply_feedback, undo_feedback
from .full_text import full_text_state
from .picks import picks_for, shortfall_line
from .scheduler import PipelineScheduler
from .search import MAX_LIMIT, MAX_QUERY_CHARS, Searcher, SearchError, SearchQuery
from .sessions import session_user
from .signing import BadSignature
from .security import BodySizeLimit, SecurityHeaders, install_access_log_redaction
from .urls import safe_url
from .web import install_web, render_page, session_context

HERE = Path(__file__).resolve().parent

log = logging.getLogger(__name__)


def error_response(status: int, code: str, message: str) -> JSONResponse:
    """The one JSON error shape every endpoint answers with."""
    return JSONResponse({"error": {"status": status, "code": code, "message": message}}, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        code = {400: "invalid_parameter", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed"}
        return error_response(exc.status_code, code.get(exc.status_code, "http_error"), str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "body"))
        return error_response(422, "invalid_parameter", f"{where}: {first.get('msg', 'invalid value')}")

    @app.exception_handler(SearchError)
    async def bad_search(request: Request, exc: SearchError):
        return error_response(400, exc.code, str(exc))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        log.exception("unhandled error on %s", request.url.path)
        return error_response(500, "internal_error", "something went wrong on our side; see the server log")


def search_query(  # a dependency: FastAPI documents and validates these parameters

    q: Annotated[str, Query(description=f"What to look for (at most {MAX_QUERY_CHARS} characters)")] = "",
    where: Annotated[Literal["limitations", "appendix", "all"],
                     Query(alias="in", description="Search limitations, appendices or both")] = "all",
    year_from: Annotated[str | None, Query(alias="from", description="Earliest year, e.g. 2015")] = None,
    year_to: Annotated[str | None, Query(alias="to", description="Latest year")] = None,
    category: Annotated[str | None, Query(max_length=64, description="arXiv category (cs.CL) or feed field")] = None,
    source: Annotated[Literal["arxiv", "arxiv-classics", "arxiv-oai", "canon", "feeds"] | None,
                      Query(description="Where the paper came from")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Most hits to return")] = 20,
    mode: Annotated[Literal["hybrid", "keyword", "semantic"],
                    Query(description="hybrid (default), or one ranker alone")] = "hybrid",
) -> SearchQuery:
    # Years arrive as text: a search form sends empty fields, which mean "no limit".
    return SearchQuery(q=q, where=where, year_from=_year(year_from, "from"), year_to=_year(year_to, "to"),
                       category=category or None, source=source, limit=limit, mode=mode)


def _year(text: str | None, name: str) -> int | None:
    if text is None or not text.strip():
        return None
    # ASCII digits only: "²²²²".isdigit() is true, and int() then fails.
    if not re.fullmatch(r"[0-9]{1,4}", text.strip()) or not 1000 <= int(text) <= 3000:
        raise SearchError("invalid_parameter", f"{name}={text!r}: give a year like 2015")
    return int(text)


def current_user(request: Request, authorization: Annotated[str | None, Header()] = None) -> User:
    """The user whose API token came as ``Authorization: Bearer <token>``, or whose browser is signed in."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() == "bearer":
        user = user_for_token(request.app.state.store, token.strip())
    else:
        user = session_user(request)  # the pages' JSON twins, fetched by a signed-in browser
    if user is None:
        raise StarletteHTTPException(401, "send your API token as 'Authorization: Bearer <token>', or sign in")
    return user


Me = Annotated[User, Depends(current_user)]


def own(me: User, user_id: int) -> None:
    # Someone else's objects do not exist, as far as this token can tell: 404, not 403.
    if user_id != me.id:
        raise StarletteHTTPException(404, f"no user {user_id}")


class PlainText(BaseModel):
    """Request bodies whose strings can be stored and sent back: a JSON "\\ud800" escape decodes to a
    lone surrogate, which no response, page or mail could encode later."""

    @field_validator("*")
    @classmethod
    def no_lone_surrogates(cls, value):
        for text in value if isinstance(value, list) else [value]:
            if isinstance(text, str) and any("\ud800" <= c <= "\udfff" for c in text):
                raise ValueError("contains a lone surrogate (\\ud800-\\udfff), which is not text")
        return value


class UserChanges(PlainText):
    name: str | None = None
    timezone: str | None = None
    digest_hour: int | None = None
    interests: str | None = None
    categories: list[str] | None = None
    anti_trend: float | None = None
    unsubscribed: bool | None = None


class NewReads(PlainText):
    ids: list[str] = Field(min_length=1, max_length=500)
    rating: Literal[1, -1] | None = None


def snippet_parts(snippet: str, highlights: list[list[int]]) -> list[dict]:
    """Split a snippet into plain and highlighted parts, for autoescaped templates."""
    parts, pos = [], 0
    for start, end in highlights:
        if start > pos:
            parts.append({"text": snippet[pos:start], "mark": False})
        parts.append({"text": snippet[start:end], "mark": True})
        pos = end
    if pos < len(snippet):
        parts.append({"text": snippet[pos:], "mark": False})
    return parts


def api_operations(schema: dict) -> list[dict]:
    """The OpenAPI schema flattened for the /docs page: one entry per path and method."""
    components = schema.get("components", {}).get("schemas", {})

    def type_of(spec: dict) -> str:
        if "$ref" in spec:
            return spec["$ref"].rsplit("/", 1)[-1]
        if "enum" in spec:
            return " | ".join(map(str, spec["enum"]))
        if "anyOf" in spec:
            return " | ".join(type_of(s) for s in spec["anyOf"])
        if spec.get("type") == "array":
            return f"list of {type_of(spec.get('items', {}))}"
        return spec.get("type", "any")

    operations = []
    for path, methods in schema.get("paths", {}).items():
        for method, op in methods.items():
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            fields = components.get(type_of(body), {}).get("properties", {}) if body else {}
            operations.append({
                "method": method.upper(), "path": path, "summary": op.get("summary", ""),
                "description": op.get("description", ""),
                "parameters": [{"name": p["name"], "where": p["in"], "required": p.get("required", False),
                                "type": type_of(p.get("schema", {})),
                                "description": p.get("description") or p.get("schema", {}).get("description", "")}
                               for p in op.get("parameters", [])],
                "body": [{"name": name, "type": type_of(spec)} for name, spec in fields.items()],
            })
    return operations


def create_app(settings: Settings, *, run_scheduler: bool = True) -> FastAPI:
    store = Store(settings.home)
    scheduler = PipelineScheduler(settings, store)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        install_access_log_redaction()  # after the server has set up its loggers
        if run_scheduler:
            scheduler.start()
        yield
        scheduler.shutdown()

    # docs_url=None: FastAPI's Swagger page loads its code from a CDN; /docs below is ours, served from here.
    app = FastAPI(title="Glean", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Reading against the consensus: limitations, appendices, classics.")
    # The last added runs first: headers go on everything, the 413 included.
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    app.add_middleware(SecurityHeaders)
    app.state.settings = settings
    app.state.store = store
    app.state.scheduler = scheduler
    install_error_handlers(app)

    templates = Jinja2Templates(directory=HERE / "templates", context_processors=[session_context])
    templates.env.filters["safe_url"] = safe_url  # every href that comes from stored data goes through it
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    searcher = Searcher(store, settings)
    app.state.searcher = searcher
    app.state.signer = signer_for(settings)
    install_web(app, templates, store, settings, app.state.signer)

    @app.get("/api/search", summary="Hybrid search over limitations sections and appendices",
             description="BM25 (SQLite FTS5) and semantic (faiss) rankings fused by reciprocal rank; at most "
                         "two hits per paper. Errors answer {error: {status, code, message}}.")
    def api_search(query: Annotated[SearchQuery, Depends(search_query)]) -> dict:
        return searcher.search(query)

    @app.get("/search", response_class=HTMLResponse, include_in_schema=False)
    def search_page(request: Request, query: Annotated[SearchQuery, Depends(search_query)]):
        context = {"query": None, "filters": query.filters(), "results": [], "total": 0, "took_ms": 0,
                   "error": None, "active": "search"}
        if query.q.strip():
            try:
                context.update(searcher.search(query))  # the page's context is the API's answer
            except SearchError as exc:
                context.update(query=query.q, error=str(exc))
        for hit in context["results"]:
            hit["parts"] = snippet_parts(hit["snippet"], hit["highlights"])
        context["json_url"] = "/api/search" + (f"?{request.url.query}" if request.url.query else "")
        return render_page(templates, request, "search.html", context)

    @app.get("/api/me", summary="The signed-in user (by bearer token)")
    def api_me(me: Me) -> dict:
        return me.public()

    @app.get("/api/users/{user_id}", summary="A user; only your own")
    def api_user(user_id: int, me: Me) -> dict:
        own(me, user_id)
        return me.public()

    @app.patch("/api/users/{user_id}", summary="Change your settings")
    def api_update_user(user_id: int, changes: UserChanges, me: Me) -> dict:
        own(me, user_id)
        try:
            values = clean_fields(**changes.model_dump(exclude_unset=True))
        except AccountError as exc:
            raise StarletteHTTPException(400, str(exc)) from None
        return store.update_user(me.id, **values).public()

    @app.post("/api/users/{user_id}/token", summary="Make a new API token; the old one stops working",
              description="Answers the new token once: only its hash is kept.")
    def api_new_token(user_id: int, me: Me) -> dict:
        own(me, user_id)
        return {"user": me.id, "token": rotate_token(store, me.id)}

    @app.get("/api/users/{user_id}/reads", summary="Your reading history")
    def api_reads(user_id: int, me: Me) -> dict:
        own(me, user_id)
        return {"user": me.id, "reads": store.reads(me.id)}

    @app.post("/api/users/{user_id}/reads", summary="Add papers you read (ids, arXiv ids or DOIs)")
    def api_add_reads(user_id: int, body: NewReads, me: Me) -> dict:
        own(me, user_id)
        report = add_reads(store, settings, me.id, [reference_for(x) for x in body.ids], rating=body.rating)
        return report.as_json()

    @app.delete("/api/users/{user_id}/reads/{paper_id:path}", summary="Forget one read")
    def api_remove_read(user_id: int, paper_id: str, me: Me) -> dict:
        own(me, user_id)
        if not store.remove_read(me.id, paper_id):
            raise StarletteHTTPException(404, f"{paper_id} is not in your reads")
        return {"removed": paper_id}

    @app.get("/api/users/{user_id}/picks", summary="Your ranked picks today, with score parts and reasons")
    def api_picks(user_id: int, me: Me, limit: Annotated[int, Query(ge=1, le=50)] = 10,
                  on: Annotated[date | None, Query(alias="date", description="rank as of this day")] = None) -> dict:
        own(me, user_id)
        picks = picks_for(store, settings, me, on=on, limit=limit)
        return {"user": me.id, "date": (on or datetime.now(timezone.utc).date()).isoformat(),
                "items": [asdict(p) for p in picks], "shortfall": shortfall_line(picks, limit)}

    @app.get("/api/users/{user_id}/today", summary="Today as the home page shows it: the digest as sent, then "
                                                    "what is new since (or today's picks before the digest)")
    def api_today(user_id: int, me: Me) -> dict:
        own(me, user_id)
        return today_for(store, settings, me)

    @app.get("/api/users/{user_id}/breadth", summary="Where your reading goes: subfield shares and breadth")
    def api_breadth(user_id: int, me: Me) -> dict:
        own(me, user_id)
        return breadth_report(store, settings, me)

    @app.get("/api/trend", summary="The burst test's clusters now (from the last daily computation)")
    def api_trend(top: Annotated[int, Query(ge=1, le=50)] = 10) -> dict:
        clusters = store.trend_clusters()
        meta = store.trend_meta() or {}
        return {"window_days": settings.trend_window_days, "computed_at": meta.get("computed_at"),
                "window_papers": meta.get("window_papers", 0), "history_papers": meta.get("history_papers", 0),
                "clusters_tested": meta.get("tests", 0),
                "clusters": [c.public() for c in clusters if c.significant][:top]}

    signer = app.state.signer

    def message_page(request: Request, heading: str, *lines: str, status: int = 200, **form) -> HTMLResponse:
        return render_page(templates, request, "message.html", {"heading": heading, "lines": lines, **form},
                           status=status)

    @app.get("/unsubscribe", response_class=HTMLResponse, include_in_schema=False)
    def unsubscribe_confirm(request: Request, t: str = ""):
        try:
            signer.verify(t, "unsubscribe")
        except BadSignature as exc:
            return message_page(request, "This unsubscribe link does not work", str(exc), status=400)
        return message_page(request, "Unsubscribe from Glean digests?",
                            "You will get no more daily digests. Your reading history stays, and you can "
                            "subscribe again in your settings.",
                            form_action=f"/unsubscribe?t={t}", form_button="Unsubscribe")

    @app.post("/unsubscribe", response_class=HTMLResponse, include_in_schema=False)
    def unsubscribe(request: Request, t: str = ""):
        # RFC 8058 one-click: the mail provider POSTs "List-Unsubscribe=One-Click" to this URL;
        # the signed token is the authority, and the answer is final (no redirect).
        try:
            payload = signer.verify(t, "unsubscribe")
        except BadSignature as exc:
            return message_page(request, "This unsubscribe link does not work", str(exc), status=400)
        if store.get_user(payload["u"]) is not None:
            store.update_user(payload["u"], unsubscribed=True)
        return message_page(request, "You are unsubscribed", "No more digests will be sent to you.")

    def feedback_target(request: Request, t: str, purpose: str):
        """(user, paper, action) of a signed feedback token, or the page saying why there is none."""
        try:
            payload = signer.verify(t, purpose)
        except BadSignature as exc:
            return None, message_page(request, "This feedback link does not work", str(exc), status=400)
        user, paper = store.get_user(payload["u"]), store.get_paper(payload["paper"])
        if user is None or paper is None or payload.get("a") not in ACTIONS:
            return None, message_page(request, "Nothing to update", "That user or paper no longer exists.",
                                      status=404)
        return (user, paper, payload["a"]), None

    @app.get("/feedback", response_class=HTMLResponse, include_in_schema=False)
    def feedback_confirm(request: Request, t: str = ""):
        # A GET only asks: mail scanners follow every link in a digest, and must not rate papers.
        target, problem = feedback_target(request, t, "feedback")
        if problem:
            return problem
        _, paper, action = target
        question = {"more": "Show more like this?", "not": "Not for you?", "read": "Mark as read?"}[action]
        return message_page(request, question, f"“{paper.title}”", form_action=f"/feedback?t={t}",
                            form_button={"more": "More like this", "not": "Not for me", "read": "Mark as read"}[action])

    @app.post("/feedback", response_class=HTMLResponse, include_in_schema=False)
    def feedback(request: Request, t: str = ""):
        # The signed token is the authority (as for unsubscribe); the answer offers an undo.
        target, problem = feedback_target(request, t, "feedback")
        if problem:
            return problem
        user, paper, action = target
        said = apply_feedback(store, user.id, paper.id, action)
        undo = signer.sign("feedback-undo", {"u": user.id, "paper": paper.id, "a": action},
                           settings.link_ttl_days * 86400)
        return message_page(request, "Thanks, noted", f"“{paper.title}”: {said}",
                            form_action="/feedback/undo", form_button="Undo", form_fields={"t": undo})

    @app.post("/feedback/undo", response_class=HTMLResponse, include_in_schema=False)
    def feedback_undo(request: Request, t: Annotated[str, Form()] = ""):
        target, problem = feedback_target(request, t, "feedback-undo")
        if problem:
            return problem
        user, paper, action = target
        return message_page(request, "Undone", f"“{paper.title}”: {undo_feedback(store, user.id, paper.id, action)}")

    def paper_context(paper_id: str) -> dict:
        paper = store.get_paper(paper_id)
        if paper is None:
            raise StarletteHTTPException(404, f"no paper {paper_id}")
        passages = store.passages(paper_id)
        extraction = store.extraction(paper_id)
        return {"paper": asdict(paper), "extraction": extraction,
                "full_text": None if extraction else full_text_state(store, settings, paper),
                "limitations": [p for p in passages if p["kind"] == "limitations"],
                "appendix": [{"title": p["title"], "page_start": p["page_start"]}
                             for p in passages if p["kind"] == "appendix"]}

    def stored_id(paper_id: str) -> str:
        # Readers paste every form of an id (bare or versioned arXiv id, arXiv address, DOI, doi:…).
        found = resolve_paper_id(store, paper_id)
        if found is None:
            raise StarletteHTTPException(404, f"no paper {paper_id}")
        return found

    @app.get("/api/papers/{paper_id:path}", summary="A paper: metadata, limitations, appendix outline",
             description="The id may be the stored one (arxiv:2302.07302, doi:10.1038/323533a0) or any form "
                         "a reader pastes: 2302.07302v1, an arXiv address, a DOI or a doi.org address.")
    def api_paper(paper_id: str) -> dict:
        return paper_context(stored_id(paper_id))

    @app.get("/papers/{paper_id:path}", response_class=HTMLResponse, include_in_schema=False)
    def paper_page(request: Request, paper_id: str):
        found = stored_id(paper_id)
        if found != paper_id:  # one address per paper: bookmarks and links converge on it
            return RedirectResponse(f"/papers/{quote(found, safe=':/')}", status_code=308)
        context = paper_context(found)
        return render_page(templates, request, "paper.html",
                           {**context, "json_url": f"/api/papers/{quote(found, safe=':/')}"})

    @app.get("/healthz", summary="Liveness, schema version and the scheduler's state")
    def healthz() -> dict:
        search = health.index_health(store)
        degraded = search["state"] in ("missing", "unreadable")
        return {"status": "degraded" if degraded else "ok", "schema_version": store.schema_version,
                "scheduler": scheduler.describe(), "search": search}

    @app.get("/api/status", summary="Per-source health (failing, stale, ok), papers and PDFs",
             description="Mail problems name their recipients, so the public answer counts them; "
                         "signed in (or with your token) you also see your own.")
    def api_status(request: Request, authorization: Annotated[str | None, Header()] = None) -> dict:
        answer = health.status(store)
        problems = answer["mail"].pop("problems")
        answer["mail"]["problem_count"] = len(problems)
        try:
            me = current_user(request, authorization)
        except StarletteHTTPException:
            return answer
        answer["mail"]["my_problems"] = [p for p in problems if p["user_id"] == me.id]
        return answer

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    def api_docs(request: Request):
        return render_page(templates, request, "api_docs.html",
                           {"operations": api_operations(app.openapi()), "json_url": "/openapi.json"})

    return app
