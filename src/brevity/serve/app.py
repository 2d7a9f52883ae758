"""`brevity serve`'s HTTP side (FastAPI): OpenAI's chat and completions endpoints, streaming and not,
/v1/models, /health and Prometheus /metrics, with API keys, size and concurrency limits, timeouts, and
OpenAI-style error bodies for every 4xx."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import SimpleNamespace

from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from brevity.errors import BrevityError
from brevity.methods.solution import Solution
from brevity.methods.spec import parse_spec
from brevity.serve.config import ServeConfig
from brevity.serve.gateway import Gateway, NotFound, Plan
from brevity.serve.logprobs import chat_logprobs, completion_logprobs
from brevity.serve.protocol import (
    ChatCompletionRequest,
    CompletionRequest,
    Extensions,
    chat_response,
    completion_response,
    error_body,
    finish_reason,
    new_id,
    stream_chunk,
    usage,
)
from brevity.serve.scheduler import Job
from brevity.serve.stream import ResponseStream, raw_text
from brevity.tasks import Problem

ENDPOINTS = ("/v1/chat/completions", "/v1/completions", "/v1/models")
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
               405: "invalid_request_error", 413: "invalid_request_error", 429: "rate_limit_error",
               504: "timeout_error"}


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None, param: str | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.param = status, message, code, param


def _error(status: int, message: str, code: str | None = None, param: str | None = None) -> JSONResponse:
    # A timeout would only time out again: tell OpenAI's clients not to retry it.
    headers = {"x-should-retry": "false"} if status == 504 else None
    return JSONResponse(error_body(message, ERROR_TYPES.get(status, "server_error"), param, code), status, headers)


class Released(StreamingResponse):
    """A streamed response that gives back its concurrency slot, and stops its generation, however it
    ends: done, failed, or cancelled before its body generator ever ran."""

    def __init__(self, content, release, **kw):
        super().__init__(content, **kw)
        self.release = release

    async def __call__(self, scope, receive, send):
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.release()


class BodyLimit:
    """413 for a body over the limit, by its Content-Length or, without one, as it arrives."""

    class TooLarge(Exception):
        pass

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        too_large = _error(413, f"request body is over this server's limit of {self.max_bytes} bytes",
                           "body_too_large")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            return await too_large(scope, receive, send)
        seen = 0

        async def limited():
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyLimit.TooLarge
            return msg

        try:
            await self.app(scope, limited, send)
        except BodyLimit.TooLarge:
            await too_large(scope, receive, send)


def create_app(cfg: ServeConfig, gateway: Gateway | None = None, close_gateway: bool = False) -> FastAPI:
    """The app over `gateway` (started here when None). The gateway is closed at shutdown when the app
    started it or `close_gateway` says so (uvicorn re-raises SIGTERM after shutdown, so a caller's
    `finally` would not run)."""
    gw = gateway or Gateway(cfg)
    limits = cfg.limits
    state = {"inflight": 0}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        owned = not gw.engines  # a gateway started by the caller is the caller's to close, unless it says so
        if owned:
            gw.start()
        yield
        if owned or close_gateway:
            gw.close()

    app = FastAPI(title="Brevity gateway", version="0.1.0", lifespan=lifespan,
                  description="OpenAI-compatible reasoning gateway: enforced thinking budgets, reasoning_effort, "
                              "early exit (DEER, Dynasor) and routes, in front of in-process or upstream engines.")
    app.state.gateway = gw
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes)

    @app.middleware("http")
    async def count(request: Request, call_next):
        t0 = time.perf_counter()
        response = await call_next(request)
        path = request.url.path
        if path.startswith("/v1/"):
            path = path if path in ENDPOINTS else "other"  # labels from user input stay bounded
            model = getattr(request.state, "model", "-")
            model = model if model in cfg.models or model in cfg.aliases else "other"
            gw.metrics.requests.labels(model, path, str(response.status_code)).inc()
            streamed = response.headers.get("content-type", "").startswith("text/event-stream")
            if response.status_code == 200 and not streamed:  # a stream records its latency when it ends
                gw.metrics.latency.labels(model, path).observe(time.perf_counter() - t0)
        return response

    @app.exception_handler(ApiError)
    async def api_error(_: Request, e: ApiError):
        return _error(e.status, e.message, e.code, e.param)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, e: RequestValidationError):
        first = e.errors()[0] if e.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()) if x != "body")
        kind = first.get("type", "")
        msg = "the body is not valid JSON" if kind == "json_invalid" else f"{where or 'body'}: {first.get('msg', e)}"
        return _error(400, msg, kind or None, None if kind == "json_invalid" else where or None)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, e: StarletteHTTPException):
        return _error(e.status_code, str(e.detail))

    @app.exception_handler(BrevityError)
    async def brevity_error(_: Request, e: BrevityError):
        return _error(404 if isinstance(e, NotFound) else 400, str(e), "model_not_found" if isinstance(e, NotFound)
                      else None)

    def auth(authorization: str | None = Header(None, include_in_schema=False)) -> None:
        if cfg.api_key and authorization != f"Bearer {cfg.api_key}":
            raise ApiError(401, "missing or wrong API key (send Authorization: Bearer KEY)", "invalid_api_key")

    @app.get("/health")
    async def health():
        return {"status": "ok"}

    @app.get("/metrics", dependencies=[Depends(auth)])
    async def metrics():
        return Response(gw.metrics.render(), media_type="text/plain; version=0.0.4")

    @app.get("/v1/models", dependencies=[Depends(auth)])
    async def models():
        created = int(time.time())
        data = [{"id": n, "object": "model", "created": created, "owned_by": "brevity", "backend": m.backend}
                for n, m in cfg.models.items()]
        data += [{"id": a, "object": "model", "created": created, "owned_by": "brevity", "route": t}
                 for a, t in cfg.aliases.items()]
        return {"object": "list", "data": data}

    @app.post("/v1/chat/completions", dependencies=[Depends(auth)])
    async def chat_completions(body: ChatCompletionRequest, request: Request):
        """Chat, with reasoning separated into `reasoning_content`; see the request extensions."""
        prompt = [{"role": m.role if m.role != "developer" else "system", "content": m.text()} for m in body.messages]
        question = next((m["content"] for m in reversed(prompt) if m["role"] == "user"), prompt[-1]["content"])
        return await serve(body, request, prompt, question, chat=True)

    @app.post("/v1/completions", dependencies=[Depends(auth)])
    async def completions(body: CompletionRequest, request: Request):
        """Raw completion of a prompt in the model's own format; the text keeps `</think>`."""
        if isinstance(body.prompt, list) and len(body.prompt) != 1:
            raise ApiError(400, "prompt: give one prompt (a string, or a list of one)", param="prompt")
        if body.chat_template_kwargs:
            raise ApiError(400, "chat_template_kwargs applies to chat messages; a /v1/completions prompt is already "
                                "rendered (use thinking_budget 0 to turn thinking off)", param="chat_template_kwargs")
        return await serve(body, request, body.text(), body.text(), chat=False)

    async def serve(body: Extensions, request: Request, prompt, question: str, chat: bool):
        request.state.model = body.model
        plan = gw.plan(body)
        gw.check(plan)
        kwargs = {k: v for k, v in (body.chat_template_kwargs or {}).items() if k != "enable_thinking"}
        rendered = gw.render(plan.model.name, prompt, kwargs, thinking=parse_spec(plan.spec).name != "nothink")
        n_prompt = len(gw.formats[plan.model.name].encode(rendered))
        if n_prompt > limits.max_prompt_tokens:
            raise ApiError(400, f"the prompt has {n_prompt} tokens; this server takes at most "
                                f"{limits.max_prompt_tokens}", "prompt_too_long", "messages" if chat else "prompt")
        context = gw.context.get(plan.model.name)
        if context and n_prompt + plan.max_tokens > context:
            raise ApiError(400, f"prompt ({n_prompt} tokens) plus max_tokens ({plan.max_tokens}) exceeds the model's "
                                f"context of {context} tokens; lower max_tokens", "context_length_exceeded")
        if state["inflight"] >= limits.max_concurrency:
            raise ApiError(429, f"this server is at its limit of {limits.max_concurrency} concurrent requests; "
                                "retry shortly", "too_many_requests")
        state["inflight"] += 1
        gw.metrics.inflight.inc()
        rid = new_id("chatcmpl" if chat else "cmpl")
        fmt = gw.formats[plan.model.name]
        stream = ResponseStream(asyncio.get_running_loop(), fmt.spec, raw=not chat, wants_text=body.stream)
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                stream.cancelled = stream.cancelled or not stream.finished
                state["inflight"] -= 1
                gw.metrics.inflight.dec()

        gw.log_prompt(rid, plan.model.name, plan.spec, rendered)
        decoding = gw.decoding(plan.model.name, _sampling(body, chat))
        gw.schedulers[plan.model.name].submit(Job(Problem(id=rid, question=question, answer="", prompt=prompt,
                                                          template_kwargs=kwargs, sink=stream, decoding=decoding),
                                                  plan.spec))
        if body.stream:
            return Released(events(body, plan, stream, rid, n_prompt, chat, fmt), release,
                            media_type="text/event-stream")
        t0 = time.perf_counter()

        async def watch() -> None:  # a client that hangs up stops its generation
            while not await request.is_disconnected():
                await asyncio.sleep(0.25)
            stream.cancelled = True

        watcher = asyncio.create_task(watch())
        try:
            while True:
                remaining = limits.timeout_s - (time.perf_counter() - t0)
                kind, value = await asyncio.wait_for(stream.queue.get(), max(0.001, remaining))
                if kind == "done":
                    break
                if kind == "error":
                    if isinstance(value, BrevityError):
                        raise value
                    raise ApiError(500, f"the method failed: {type(value).__name__}: {value}", "method_failed")
        except TimeoutError:
            raise ApiError(504, f"no answer within this server's {limits.timeout_s:g} s timeout", "timeout") from None
        finally:
            watcher.cancel()
            release()
        sol: Solution = value
        gw.metrics.solved(plan.model.name, sol, gw.reference.get(plan.model.name, 0.0))
        build = chat_response if chat else completion_response
        resp = build(rid, body.model, sol, plan.spec, n_prompt, fmt.spec)
        resp["choices"][0]["logprobs"] = logprobs_of(plan, sol, chat, resp["choices"][0].get("text", ""))
        return JSONResponse(resp)

    def logprobs_of(plan: Plan, sol: Solution, chat: bool, text: str) -> dict | None:
        tok = gw.tokenizers[plan.model.name]
        return chat_logprobs(tok, sol.logprobs) if chat else completion_logprobs(tok, sol.logprobs, text)

    async def events(body: Extensions, plan: Plan, stream: ResponseStream, rid: str, n_prompt: int,
                     chat: bool, fmt) -> AsyncIterator[str]:
        created, t0, done = int(time.time()), time.perf_counter(), False

        def sse(obj: dict) -> str:
            return f"data: {json.dumps(obj)}\n\n"

        role_sent = not chat

        def piece(delta: dict | None = None, text: str | None = None, finish: str | None = None, use=None,
                  logprobs: dict | None = None):
            nonlocal role_sent
            if delta is not None and not role_sent:  # the role goes with the first generated text, so TTFT is TTFT
                delta, role_sent = {"role": "assistant", **delta}, True
            chunk = stream_chunk(rid, body.model, created, chat, delta if chat else text, finish, use)
            if logprobs is not None and chunk["choices"]:
                chunk["choices"][0]["logprobs"] = logprobs
            return sse(chunk)

        try:
            while True:
                remaining = limits.timeout_s - (time.perf_counter() - t0)
                try:
                    kind, value = await asyncio.wait_for(stream.queue.get(), max(0.001, remaining))
                except TimeoutError:
                    stream.cancelled = True
                    yield sse(error_body(f"no answer within this server's {limits.timeout_s:g} s timeout",
                                         "timeout_error", code="timeout"))
                    break
                if kind == "reasoning":
                    yield piece(delta={"reasoning_content": value, "reasoning": value})
                elif kind == "content":
                    yield piece(delta={"content": value})
                elif kind == "text":
                    yield piece(text=value)
                elif kind == "error":
                    status = 400 if isinstance(value, BrevityError) else 500
                    yield sse(error_body(str(value), ERROR_TYPES.get(status, "server_error")))
                    break
                elif kind == "done":
                    sol: Solution = value
                    done = True
                    gw.metrics.solved(plan.model.name, sol, gw.reference.get(plan.model.name, 0.0))
                    # Logprobs come whole with the last chunk (the stream's text pieces are not token-aligned).
                    lps = logprobs_of(plan, sol, chat, raw_text(sol, fmt.spec) if not chat else "")
                    yield piece(delta={}, text="", finish=finish_reason(sol), logprobs=lps)
                    if body.include_usage():
                        yield piece(use=usage(sol, n_prompt))
                    gw.metrics.latency.labels(body.model, "/v1/chat/completions" if chat else "/v1/completions"
                                              ).observe(time.perf_counter() - t0)
                    break
            yield "data: [DONE]\n\n"
        finally:  # the client went away, or we are done: either way its generation stops
            if not done:
                stream.cancelled = True

    return app


def _sampling(body: Extensions, chat: bool):
    """The request's sampling fields (temperature None: unset), from the protocol's canonical view when the
    request model offers one, else from its fields."""
    control = getattr(body, "control", None)
    if callable(control) and hasattr(control(), "sampling"):
        return control().sampling
    lp = getattr(body, "logprobs", None)
    if chat or isinstance(lp, bool) or lp is None:
        logprobs, top = bool(lp), getattr(body, "top_logprobs", None) or 0
    else:  # the legacy completions field: how many alternatives per token
        logprobs, top = True, int(lp)
    return SimpleNamespace(temperature=body.temperature, top_p=getattr(body, "top_p", None),
                           seed=getattr(body, "seed", None), stop=getattr(body, "stop", None) or (),
                           logprobs=logprobs, top_logprobs=top)
