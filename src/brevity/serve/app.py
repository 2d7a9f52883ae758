"""`brevity serve`'s HTTP side (FastAPI): thin routes over the serving classes (serving.py) for OpenAI's chat
and completions endpoints, /v1/models, /health and Prometheus /metrics, with API keys, size limits and
OpenAI-style error bodies for every 4xx."""

from __future__ import annotations

import hmac
import logging
import time
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

import brevity
from brevity.errors import BrevityError
from brevity.serve.config import ServeConfig
from brevity.serve.gateway import Gateway, NotFound
from brevity.serve.protocol import ChatCompletionRequest, CompletionRequest
from brevity.serve.serving import ApiError, OpenAIServing, error_response

log = logging.getLogger("brevity.serve")
ENDPOINTS = ("/v1/chat/completions", "/v1/completions", "/v1/models")
UNION_TAGS = {"str", "int", "float", "bool", "list", "dict", "none", "literal"}
# pydantic's error types -> OpenAI-style codes (ours, raised by the request model, pass through)
VALIDATION_CODES = {"extra_forbidden": "unknown_parameter", "missing": "missing_required_parameter",
                    "json_invalid": "invalid_json"}


def _param(loc) -> str:
    """A validation error's location as OpenAI names a parameter: `messages[0].content`."""
    out = ""
    for x in loc:
        if x == "body" or isinstance(x, str) and (x in UNION_TAGS or "[" in x or "-" in x):
            continue  # pydantic's names for the member of a union it tried: not part of the parameter
        out += f"[{x}]" if isinstance(x, int) else (f".{x}" if out else str(x))
    return out or "body"


class RequestCounter:
    """Counts each /v1/ request by model, endpoint and status, and times the non-streamed ones (a stream
    records its latency when it ends). Plain ASGI: Starlette's `@app.middleware("http")` relays every chunk of
    a streamed body through a memory stream and a task of its own, a per-token cost on the gateway's core."""

    def __init__(self, app, gw: Gateway, models: tuple[str, ...]):
        self.app, self.gw, self.models = app, gw, frozenset(models)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            return await self.app(scope, receive, send)
        t0, started = time.perf_counter(), {}

        async def watch(msg):
            if msg["type"] == "http.response.start":
                started["status"] = msg["status"]
                started["streamed"] = any(k == b"content-type" and v.startswith(b"text/event-stream")
                                          for k, v in msg.get("headers") or ())
            await send(msg)

        try:
            await self.app(scope, receive, watch)
        finally:
            if "status" in started:
                path = scope["path"] if scope["path"] in ENDPOINTS else "other"  # labels from user input stay bounded
                model = (scope.get("state") or {}).get("model", "-")
                model = model if model in self.models else "other"
                self.gw.metrics.requests.labels(model, path, str(started["status"])).inc()
                if started["status"] == 200 and not started["streamed"]:
                    self.gw.metrics.latency.labels(model, path).observe(time.perf_counter() - t0)


class BodyLimit:
    """413 for a body over the limit, by its Content-Length or, without one, as it arrives."""

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit():
            if int(length) > self.max_bytes:
                return await self.too_large(scope, receive, send)
            return await self.app(scope, receive, send)
        # No length (a chunked body): read it here, at most the limit, and hand it on whole. (Raising from
        # inside the app's own read would reach FastAPI's body parser, which turns any error into a 400.)
        body, more = b"", True
        while more:
            msg = await receive()
            if msg["type"] != "http.request":
                return
            body += msg.get("body", b"")
            more = msg.get("more_body", False)
            if len(body) > self.max_bytes:
                return await self.too_large(scope, receive, send)
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def too_large(self, scope, receive, send):
        return error_response(413, f"request body is over this server's limit of {self.max_bytes} bytes",
                      "body_too_large")(scope, receive, send)


class ApiKey:
    """401 for a /v1/ or /metrics request without the server's key (`Authorization: Bearer KEY`). Plain ASGI, not
    a FastAPI dependency: a dependency with a header parameter is solved on every request's path to its first
    token."""

    def __init__(self, app, key: str):
        self.app, self.expected = app, f"Bearer {key}".encode("latin-1")

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and (scope["path"].startswith("/v1/") or scope["path"] == "/metrics"):
            given = next((v for k, v in scope.get("headers") or () if k == b"authorization"), b"")
            if not hmac.compare_digest(given, self.expected):
                return await error_response(401, "missing or wrong API key (send Authorization: Bearer KEY)",
                                    "invalid_api_key")(scope, receive, send)
        return await self.app(scope, receive, send)


def create_app(cfg: ServeConfig, gateway: Gateway | None = None, close_gateway: bool = False) -> FastAPI:
    """The app over `gateway` (started here when None). The gateway is closed at shutdown when the app
    started it or `close_gateway` says so (uvicorn re-raises SIGTERM after shutdown, so a caller's
    `finally` would not run)."""
    gw = gateway or Gateway(cfg)
    limits = cfg.limits

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        owned = not gw.engines  # a gateway started by the caller is the caller's to close, unless it says so
        if owned:
            gw.start()
        yield
        if owned or close_gateway:
            gw.close()

    app = FastAPI(title="Brevity gateway", version=brevity.__version__, lifespan=lifespan,
                  description="OpenAI-compatible reasoning gateway: enforced thinking budgets, reasoning_effort, "
                              "early exit (DEER, Dynasor) and routes, in front of in-process or upstream engines.")
    app.state.gateway = gw
    if cfg.api_key:
        app.add_middleware(ApiKey, key=cfg.api_key)
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes)

    app.add_middleware(RequestCounter, gw=gw, models=(*cfg.models, *cfg.aliases))

    @app.exception_handler(ApiError)
    async def apierror_response(_: Request, e: ApiError):
        return error_response(e.status, e.message, e.code, e.param, e.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, e: RequestValidationError):
        first = e.errors()[0] if e.errors() else {}
        kind = first.get("type", "")
        ctx = first.get("ctx") or {}
        if kind == "json_invalid":
            return error_response(400, "the body is not valid JSON", "invalid_json")
        where = ctx.get("param") or _param(first.get("loc", ()))
        msg = ctx["message"] if "message" in ctx and "param" in ctx else f"{where}: {first.get('msg', e)}"
        return error_response(400, msg, VALIDATION_CODES.get(kind, kind if "param" in ctx else "invalid_value"), where)

    @app.exception_handler(StarletteHTTPException)
    async def httperror_response(_: Request, e: StarletteHTTPException):
        return error_response(e.status_code, str(e.detail), "not_found" if e.status_code == 404 else "invalid_request")

    @app.exception_handler(BrevityError)
    async def brevityerror_response(_: Request, e: BrevityError):
        if isinstance(e, NotFound):
            return error_response(404, str(e), "model_not_found", "model")
        return error_response(400, str(e), getattr(e, "code", "invalid_request"), getattr(e, "param", None))

    @app.get("/health")
    async def health():
        """Up (`status`), and which models and aliases take requests: `ready` is true once every one does."""
        aliases = {a: gw.alias_ready(a) for a in cfg.aliases}
        return {"status": "ok", "ready": all(v == "ready" for v in aliases.values()),
                "models": {n: "ready" if n in gw.schedulers else "loading" for n in cfg.models}, "aliases": aliases}

    @app.get("/metrics")
    async def metrics():
        return Response(gw.metrics.render(), media_type="text/plain; version=0.0.4")

    @app.get("/v1/models")
    async def models():
        created = int(time.time())
        data = [{"id": n, "object": "model", "created": created, "owned_by": "brevity", "backend": m.backend}
                for n, m in cfg.models.items()]
        data += [{"id": a, "object": "model", "created": created, "owned_by": "brevity", "route": t}
                 for a, t in cfg.aliases.items()]
        return {"object": "list", "data": data}

    @app.get("/v1/models/{model_id:path}")
    async def model(model_id: str):
        found = next((m for m in (await models())["data"] if m["id"] == model_id), None)
        if found is None:
            raise NotFound(f"model {model_id!r} is not served here; GET /v1/models lists them")
        return found

    @app.api_route("/v1/responses", methods=["GET", "POST"], include_in_schema=False)
    async def responses():
        raise ApiError(404, "the Responses API is not served here; send the same request to /v1/chat/completions "
                            "(reasoning: {effort} is accepted there)", "not_found")

    serving = OpenAIServing(gw, cfg)

    @app.post("/v1/chat/completions")
    async def chat_completions(body: ChatCompletionRequest, request: Request):
        """Chat, with reasoning separated into `reasoning_content`; see the request extensions."""
        return await serving.chat(body, request)

    @app.post("/v1/completions")
    async def completions(body: CompletionRequest, request: Request):
        """Raw completion of prompts in the model's own format (text or token ids; one choice each). The text is
        what the model wrote, plus what the method injected (listed in `brevity.injected`)."""
        return await serving.completions(body, request)

    return app
