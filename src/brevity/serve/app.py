"""`brevity serve`'s HTTP side (FastAPI): OpenAI's chat and completions endpoints, streaming and not,
/v1/models, /health and Prometheus /metrics, with API keys, size and concurrency limits, timeouts, and
OpenAI-style error bodies for every 4xx."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

import brevity
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

log = logging.getLogger("brevity.serve")
ENDPOINTS = ("/v1/chat/completions", "/v1/completions", "/v1/models")
UNION_TAGS = {"str", "int", "float", "bool", "list", "dict", "none", "literal"}
# pydantic's error types -> OpenAI-style codes (ours, raised by the request model, pass through)
VALIDATION_CODES = {"extra_forbidden": "unknown_parameter", "missing": "missing_required_parameter",
                    "json_invalid": "invalid_json"}
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
               405: "invalid_request_error", 413: "invalid_request_error", 429: "rate_limit_error",
               503: "service_unavailable_error", 504: "timeout_error"}
RETRY_AFTER_S = 10  # what a request to an alias still calibrating is told


def output_counting(fmt, body) -> dict:
    """How usage counts a response's output tokens for this model and request (protocol.output_tokens)."""
    return {"close_tokens": len(fmt.close_ids) if fmt.spec.thinks else 0,
            "counts_eos": not body.control.sampling.stop}


def _param(loc) -> str:
    """A validation error's location as OpenAI names a parameter: `messages[0].content`."""
    out = ""
    for x in loc:
        if x == "body" or isinstance(x, str) and (x in UNION_TAGS or "[" in x or "-" in x):
            continue  # pydantic's names for the member of a union it tried: not part of the parameter
        out += f"[{x}]" if isinstance(x, int) else (f".{x}" if out else str(x))
    return out or "body"


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None, param: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.param, self.headers = status, message, code, param, headers


def _error(status: int, message: str, code: str | None = None, param: str | None = None,
           headers: dict[str, str] | None = None) -> JSONResponse:
    # A timeout would only time out again: tell OpenAI's clients not to retry it.
    headers = headers or ({"x-should-retry": "false"} if status == 504 else None)
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
        return _error(413, f"request body is over this server's limit of {self.max_bytes} bytes",
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
                return await _error(401, "missing or wrong API key (send Authorization: Bearer KEY)",
                                    "invalid_api_key")(scope, receive, send)
        return await self.app(scope, receive, send)


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

    app = FastAPI(title="Brevity gateway", version=brevity.__version__, lifespan=lifespan,
                  description="OpenAI-compatible reasoning gateway: enforced thinking budgets, reasoning_effort, "
                              "early exit (DEER, Dynasor) and routes, in front of in-process or upstream engines.")
    app.state.gateway = gw
    if cfg.api_key:
        app.add_middleware(ApiKey, key=cfg.api_key)
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes)

    app.add_middleware(RequestCounter, gw=gw, models=(*cfg.models, *cfg.aliases))

    @app.exception_handler(ApiError)
    async def api_error(_: Request, e: ApiError):
        return _error(e.status, e.message, e.code, e.param, e.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, e: RequestValidationError):
        first = e.errors()[0] if e.errors() else {}
        kind = first.get("type", "")
        ctx = first.get("ctx") or {}
        if kind == "json_invalid":
            return _error(400, "the body is not valid JSON", "invalid_json")
        where = ctx.get("param") or _param(first.get("loc", ()))
        msg = ctx["message"] if "message" in ctx and "param" in ctx else f"{where}: {first.get('msg', e)}"
        return _error(400, msg, VALIDATION_CODES.get(kind, kind if "param" in ctx else "invalid_value"), where)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, e: StarletteHTTPException):
        return _error(e.status_code, str(e.detail), "not_found" if e.status_code == 404 else "invalid_request")

    @app.exception_handler(BrevityError)
    async def brevity_error(_: Request, e: BrevityError):
        if isinstance(e, NotFound):
            return _error(404, str(e), "model_not_found", "model")
        return _error(400, str(e), getattr(e, "code", "invalid_request"), getattr(e, "param", None))

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

    @app.post("/v1/chat/completions")
    async def chat_completions(body: ChatCompletionRequest, request: Request):
        """Chat, with reasoning separated into `reasoning_content`; see the request extensions."""
        prompt = [m.for_template() for m in body.messages]
        question = next((m["content"] for m in reversed(prompt) if m["role"] == "user"), prompt[-1]["content"])
        return await serve(body, request, [prompt], [question], chat=True)

    @app.post("/v1/completions")
    async def completions(body: CompletionRequest, request: Request):
        """Raw completion of prompts in the model's own format (text or token ids; one choice each). The text is
        what the model wrote, plus what the method injected (listed in `brevity.injected`)."""
        prompts = body.prompts()
        if not prompts:
            raise ApiError(400, "prompt is empty: give a string, token ids, or a list of either", "invalid_value",
                           "prompt")
        if body.stream and len(prompts) > 1:
            raise ApiError(400, "streaming takes one prompt; send several without stream, or one per request",
                           "unsupported_parameter", "prompt")
        if body.chat_template_kwargs:
            raise ApiError(400, "chat_template_kwargs applies to chat messages; a /v1/completions prompt is already "
                                "rendered (use thinking_budget 0 to turn thinking off)", "unsupported_parameter",
                           "chat_template_kwargs")
        if body.control.hide_reasoning:
            field = body.control.fields["hide"]
            raise ApiError(400, f"{field}: a raw completion returns the model's text as written; hiding the "
                                "reasoning applies to /v1/chat/completions", "unsupported_parameter", field)
        texts = [p if isinstance(p, str) else _decode(p, body.model) for p in prompts]
        return await serve(body, request, texts, texts, chat=False)

    def not_ready(alias: str) -> None:
        """503 for an alias still calibrating (retry after a while) or whose calibration failed (do not)."""
        state = gw.alias_ready(alias)
        if state == "calibrating":
            raise ApiError(503, f"{alias} is still calibrating; retry in {RETRY_AFTER_S} s (GET /health lists what is "
                                "ready)", "alias_not_ready", "model", {"Retry-After": str(RETRY_AFTER_S)})
        if state != "ready":
            raise ApiError(503, f"{alias} is unavailable: its calibration {state}", "alias_failed", "model",
                           {"x-should-retry": "false"})

    def _decode(ids: list[int], model: str) -> str:
        """Token ids as the text they encode (the engines take text or ids alike; the prompt is counted again)."""
        name = gw.served_model(model)
        tok = gw.tokenizers[name]
        if any(not 0 <= i < len(tok) for i in ids):
            raise ApiError(400, f"prompt has token ids outside this model's vocabulary (0 to {len(tok) - 1})",
                           "invalid_value", "prompt")
        return tok.decode(ids, skip_special_tokens=False)

    async def serve(body: Extensions, request: Request, prompts: list, questions: list[str], chat: bool):
        request.state.model = body.model
        unknown = body.unknown_fields()
        if unknown and limits.unknown_fields != "ignore":
            raise ApiError(400, f"{unknown[0]!r} is not a parameter this server knows (in no OpenAI schema and no "
                                "Brevity extension); leave it out", "unknown_parameter", unknown[0])
        if unknown:
            log.info("ignored unknown request fields: %s", ", ".join(unknown))
        plan = gw.plan(body)
        if body.model in cfg.aliases:
            not_ready(body.model)
        gw.check(plan)
        name = plan.model.name
        thinking = parse_spec(plan.spec).name != "nothink"
        try:
            gw.formats[name].check_switch(body.control.template_kwargs, thinking)
        except BrevityError as e:
            raise ApiError(400, str(e), "conflicting_parameters", f"chat_template_kwargs.{gw.formats[name].spec.switch}"
                           ) from None
        # the template's own effort kwarg, if it has one, beside the enforced budget; the client's own kwargs win
        kwargs = {**(gw.formats[name].template_effort(body.control.effort, body.control.budget) if thinking else {}),
                  **body.control.template_kwargs}
        rendered = [gw.render(name, p, kwargs, thinking=thinking) for p in prompts]
        counts = [len(gw.formats[name].encode(r)) for r in rendered]
        where = "messages" if chat else "prompt"
        if max(counts) > limits.max_prompt_tokens:
            raise ApiError(400, f"the prompt has {max(counts)} tokens; this server takes at most "
                                f"{limits.max_prompt_tokens}", "prompt_too_long", where)
        context = gw.context.get(name)
        if context and max(counts) + plan.max_tokens > context:
            raise ApiError(400, f"prompt ({max(counts)} tokens) plus max_tokens ({plan.max_tokens}) exceeds the "
                                f"model's context of {context} tokens; lower max_tokens", "context_length_exceeded",
                           "max_tokens")
        n = len(prompts)
        if n > limits.max_concurrency:
            raise ApiError(400, f"{n} prompts in one request; this server takes at most {limits.max_concurrency}",
                           "invalid_value", "prompt")
        if state["inflight"] + n > limits.max_concurrency:
            raise ApiError(429, f"this server is at its limit of {limits.max_concurrency} concurrent requests; "
                                "retry shortly", "too_many_requests")
        state["inflight"] += n
        gw.metrics.inflight.inc(n)
        rid = new_id("chatcmpl" if chat else "cmpl")
        fmt = gw.formats[name]
        loop = asyncio.get_running_loop()
        # a raw prompt gets what the method adds after it (thinking turned off): the response shows it, injected
        drop = gw.special_texts(name) if body.control.sampling.skip_special_tokens else None
        streams = [ResponseStream(loop, fmt.spec, raw=not chat, wants_text=bool(body.stream) or not chat,
                                  prefill=r[len(p):] if not chat and r.startswith(p) else "", drop=drop)
                   for p, r in zip(prompts, rendered)]
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                for s in streams:
                    s.cancelled = s.cancelled or not s.finished
                state["inflight"] -= n
                gw.metrics.inflight.dec(n)

        decoding = gw.decoding(name, body.control.sampling)
        for i, (p, q, r, s) in enumerate(zip(prompts, questions, rendered, streams)):
            jid = rid if n == 1 else f"{rid}-{i}"
            gw.log_prompt(jid, name, plan.spec, r)
            gw.schedulers[name].submit(Job(Problem(id=jid, question=q, answer="", prompt=p, template_kwargs=kwargs,
                                                   sink=s, decoding=decoding), plan.spec))
        n_prompt = sum(counts)
        if body.stream:
            return Released(events(body, plan, streams[0], rid, n_prompt, chat, gw.formats[name]), release,
                            media_type="text/event-stream")

        async def watch() -> None:  # a client that hangs up stops its generation
            while not await request.is_disconnected():
                await asyncio.sleep(0.25)
            for s in streams:
                s.cancelled = True

        async def result(stream: ResponseStream) -> Solution:
            while True:
                kind, value = await stream.queue.get()
                if kind == "done":
                    return value
                if kind == "error":
                    if isinstance(value, BrevityError):
                        raise value
                    raise ApiError(500, f"the method failed: {type(value).__name__}: {value}", "method_failed")

        watcher = asyncio.create_task(watch())
        try:
            sols = await asyncio.wait_for(asyncio.gather(*(result(s) for s in streams)), limits.timeout_s)
        except TimeoutError:
            raise ApiError(504, f"no answer within this server's {limits.timeout_s:g} s timeout", "timeout") from None
        finally:
            watcher.cancel()
            release()
        for sol in sols:
            gw.metrics.solved(name, sol, gw.reference.get(name, 0.0))
        counted = output_counting(gw.formats[name], body)
        if chat:
            resp = chat_response(rid, body.model, sols[0], plan.spec, n_prompt, body.control.hide_reasoning, counted)
            resp["choices"][0]["logprobs"] = logprobs_of(plan, sols[0], True, "", body.control.hide_reasoning)
            return JSONResponse(resp)
        resp = completion_response(rid, body.model, sols, [s.transcript for s in streams],
                                   [s.injected for s in streams], plan.spec, n_prompt, counted)
        for choice, sol in zip(resp["choices"], sols):
            choice["logprobs"] = logprobs_of(plan, sol, False, choice["text"])
        return JSONResponse(resp)

    def logprobs_of(plan: Plan, sol: Solution, chat: bool, text: str, hide: bool = False) -> dict | None:
        """The choice's logprobs in OpenAI's chat or legacy shape; hidden reasoning hides its logprobs too."""
        tok = gw.tokenizers[plan.model.name]
        out = chat_logprobs(tok, sol.logprobs) if chat else completion_logprobs(tok, sol.logprobs, text)
        if hide and out:
            out.pop("reasoning_content", None)
        return out

    async def events(body: Extensions, plan: Plan, stream: ResponseStream, rid: str, n_prompt: int,
                     chat: bool, fmt) -> AsyncIterator[str]:
        created, t0, done = int(time.time()), time.perf_counter(), False
        hide = body.control.hide_reasoning  # read once: a pydantic private attribute is slow to reach per token

        def sse(obj: dict) -> str:
            return f"data: {json.dumps(obj)}\n\n"

        role_sent = not chat

        def piece(delta: dict | None = None, text: str | None = None, finish: str | None = None, use=None,
                  logprobs: dict | None = None):
            nonlocal role_sent
            if delta is not None and not role_sent:  # the role goes with the first generated token, so TTFT is TTFT
                delta, role_sent = {"role": "assistant", **delta}, True
            chunk = stream_chunk(rid, body.model, created, chat, delta if chat else text, finish, use)
            if logprobs is not None and chunk["choices"]:
                chunk["choices"][0]["logprobs"] = logprobs
            return sse(chunk)

        # One timer for the whole stream (a wait_for per token would make a task and a timer for each)
        deadline = asyncio.get_running_loop().call_later(limits.timeout_s, stream.queue.put_nowait, ("timeout", None))
        try:
            while True:
                kind, value = await stream.queue.get()
                if kind == "timeout":
                    stream.cancelled = True
                    yield sse(error_body(f"no answer within this server's {limits.timeout_s:g} s timeout",
                                         "timeout_error", code="timeout"))
                    break
                if kind == "started":
                    if not role_sent:  # the first token was generated, though its text may be held back
                        yield piece(delta={"content": ""})
                elif kind == "reasoning":
                    if not hide:
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
                        yield piece(use=usage(sol, n_prompt, **output_counting(fmt, body)))
                    gw.metrics.latency.labels(body.model, "/v1/chat/completions" if chat else "/v1/completions"
                                              ).observe(time.perf_counter() - t0)
                    break
            yield "data: [DONE]\n\n"
        finally:  # the client went away, or we are done: either way its generation stops
            deadline.cancel()
            if not done:
                stream.cancelled = True

    return app
