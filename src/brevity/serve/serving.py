"""OpenAI's chat and completions endpoints over a Gateway, without the app (as vLLM's OpenAIServingChat and
OpenAIServingCompletion sit under its routes): admit a request (its fields, its alias, its method, its prompts
against the limits), submit its prompts to the model's scheduler, and answer whole or as server-sent events,
with OpenAI-style error bodies."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import JSONResponse, StreamingResponse

from brevity.errors import BrevityError
from brevity.methods.solution import Solution
from brevity.serve.config import ServeConfig
from brevity.serve.gateway import Gateway, Plan
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
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
               405: "invalid_request_error", 413: "invalid_request_error", 429: "rate_limit_error",
               503: "service_unavailable_error", 504: "timeout_error"}
RETRY_AFTER_S = 10  # what a request to an alias still calibrating is told


def output_counting(fmt, body) -> dict:
    """How usage counts a response's output tokens for this model and request (protocol.output_tokens)."""
    return {"close_tokens": len(fmt.close_ids) if fmt.spec.thinks else 0,
            "counts_eos": not body.control.sampling.stop}


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None, param: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.param, self.headers = status, message, code, param, headers


def error_response(status: int, message: str, code: str | None = None, param: str | None = None,
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


@dataclass(frozen=True)
class Admitted:
    """A request that passed every check: what it runs and its prompts as the model's format renders them."""

    plan: Plan
    model: str  # the served model that runs it (an alias's target)
    template_kwargs: dict
    rendered: list[str]
    counts: list[int]  # prompt tokens of each

    def __iter__(self):
        return iter((self.plan, self.model, self.template_kwargs, self.rendered, self.counts))


class OpenAIServing:
    """The two endpoints over one gateway; `inflight` counts the prompts being answered (the concurrency limit
    is the server's, across both)."""

    def __init__(self, gw: Gateway, cfg: ServeConfig):
        self.gw, self.cfg, self.limits = gw, cfg, cfg.limits
        self.inflight = 0

    async def chat(self, body: ChatCompletionRequest, request: Request):
        """Chat, with reasoning separated into `reasoning_content`; see the request extensions."""
        prompt = [m.for_template() for m in body.messages]
        question = next((m["content"] for m in reversed(prompt) if m["role"] == "user"), prompt[-1]["content"])
        return await self.serve(body, request, [prompt], [question], chat=True)

    async def completions(self, body: CompletionRequest, request: Request):
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
        texts = [p if isinstance(p, str) else self._decode(p, body.model) for p in prompts]
        return await self.serve(body, request, texts, texts, chat=False)

    def not_ready(self, alias: str) -> None:
        """503 for an alias still calibrating (retry after a while) or whose calibration failed (do not)."""
        state = self.gw.alias_ready(alias)
        if state == "calibrating":
            raise ApiError(503, f"{alias} is still calibrating; retry in {RETRY_AFTER_S} s (GET /health lists what is "
                                "ready)", "alias_not_ready", "model", {"Retry-After": str(RETRY_AFTER_S)})
        if state != "ready":
            raise ApiError(503, f"{alias} is unavailable: its calibration {state}", "alias_failed", "model",
                           {"x-should-retry": "false"})

    def _decode(self, ids: list[int], model: str) -> str:
        """Token ids as the text they encode (the engines take text or ids alike; the prompt is counted again)."""
        name = self.gw.served_model(model)
        tok = self.gw.tokenizers[name]
        if any(not 0 <= i < len(tok) for i in ids):
            raise ApiError(400, f"prompt has token ids outside this model's vocabulary (0 to {len(tok) - 1})",
                           "invalid_value", "prompt")
        return tok.decode(ids, skip_special_tokens=False)

    def admit(self, body: Extensions, prompts: list, chat: bool) -> Admitted:
        """Check a request before any work: its fields, its alias, its method against the model, its prompts
        against the limits; the plan and the prompts as the model's format renders them."""
        unknown = body.unknown_fields()
        if unknown and self.limits.unknown_fields != "ignore":
            raise ApiError(400, f"{unknown[0]!r} is not a parameter this server knows (in no OpenAI schema and no "
                                "Brevity extension); leave it out", "unknown_parameter", unknown[0])
        if unknown:
            log.info("ignored unknown request fields: %s", ", ".join(unknown))
        plan = self.gw.plan(body)
        if body.model in self.cfg.aliases:
            self.not_ready(body.model)
        self.gw.check(plan)
        name = plan.model.name
        thinking = plan.method.name != "nothink"
        try:
            self.gw.formats[name].check_switch(body.control.template_kwargs, thinking)
        except BrevityError as e:
            raise ApiError(400, str(e), "conflicting_parameters",
                           f"chat_template_kwargs.{self.gw.formats[name].spec.switch}") from None
        # the template's own effort kwarg, if it has one, beside the enforced budget; the client's own kwargs win
        fmt = self.gw.formats[name]
        effort = fmt.template_effort(body.control.effort, body.control.budget) if thinking else {}
        kwargs = {**effort, **body.control.template_kwargs}
        rendered = [self.gw.render(name, p, kwargs, thinking=thinking) for p in prompts]
        counts = [len(self.gw.formats[name].encode(r)) for r in rendered]
        where = "messages" if chat else "prompt"
        if max(counts) > self.limits.max_prompt_tokens:
            raise ApiError(400, f"the prompt has {max(counts)} tokens; this server takes at most "
                                f"{self.limits.max_prompt_tokens}", "prompt_too_long", where)
        context = self.gw.context.get(name)
        if context and max(counts) + plan.max_tokens > context:
            raise ApiError(400, f"prompt ({max(counts)} tokens) plus max_tokens ({plan.max_tokens}) exceeds the "
                                f"model's context of {context} tokens; lower max_tokens", "context_length_exceeded",
                           "max_tokens")
        if len(prompts) > self.limits.max_concurrency:
            raise ApiError(400, f"{len(prompts)} prompts in one request; this server takes at most "
                                f"{self.limits.max_concurrency}", "invalid_value", "prompt")
        return Admitted(plan, name, kwargs, rendered, counts)

    async def serve(self, body: Extensions, request: Request, prompts: list, questions: list[str], chat: bool):
        """Run an admitted request's prompts through its model's scheduler and answer, streamed or whole."""
        request.state.model = body.model
        plan, name, kwargs, rendered, counts = self.admit(body, prompts, chat)
        n = len(prompts)
        if self.inflight + n > self.limits.max_concurrency:
            raise ApiError(429, f"this server is at its limit of {self.limits.max_concurrency} concurrent requests; "
                                "retry shortly", "too_many_requests")
        self.inflight += n
        self.gw.metrics.inflight.inc(n)
        rid = new_id("chatcmpl" if chat else "cmpl")
        fmt = self.gw.formats[name]
        loop = asyncio.get_running_loop()
        # a raw prompt gets what the method adds after it (thinking turned off): the response shows it, injected
        drop = self.gw.special_texts(name) if body.control.sampling.skip_special_tokens else None
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
                self.inflight -= n
                self.gw.metrics.inflight.dec(n)

        decoding = self.gw.decoding(name, body.control.sampling)
        for i, (p, q, r, s) in enumerate(zip(prompts, questions, rendered, streams)):
            jid = rid if n == 1 else f"{rid}-{i}"
            self.gw.log_prompt(jid, name, plan.spec, r)
            self.gw.schedulers[name].submit(Job(Problem(id=jid, question=q, answer="", prompt=p, template_kwargs=kwargs,
                                                   decoding=decoding), s, plan.method))
        n_prompt = sum(counts)
        if body.stream:
            return Released(self.events(body, plan, streams[0], rid, n_prompt, chat, self.gw.formats[name]), release,
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
            sols = await asyncio.wait_for(asyncio.gather(*(result(s) for s in streams)), self.limits.timeout_s)
        except TimeoutError:
            raise ApiError(504, f"no answer within this server's {self.limits.timeout_s:g} s timeout",
                           "timeout") from None
        finally:
            watcher.cancel()
            release()
        for sol in sols:
            self.gw.metrics.solved(name, sol, self.gw.reference.get(name, 0.0))
        counted = output_counting(self.gw.formats[name], body)
        if chat:
            resp = chat_response(rid, body.model, sols[0], plan.spec, n_prompt, body.control.hide_reasoning, counted)
            resp["choices"][0]["logprobs"] = self.logprobs_of(plan, sols[0], True, "", body.control.hide_reasoning)
            return JSONResponse(resp)
        resp = completion_response(rid, body.model, sols, [s.transcript for s in streams],
                                   [s.injected for s in streams], plan.spec, n_prompt, counted)
        for choice, sol in zip(resp["choices"], sols):
            choice["logprobs"] = self.logprobs_of(plan, sol, False, choice["text"])
        return JSONResponse(resp)

    def logprobs_of(self, plan: Plan, sol: Solution, chat: bool, text: str, hide: bool = False) -> dict | None:
        """The choice's logprobs in OpenAI's chat or legacy shape; hidden reasoning hides its logprobs too."""
        tok = self.gw.tokenizers[plan.model.name]
        out = chat_logprobs(tok, sol.logprobs) if chat else completion_logprobs(tok, sol.logprobs, text)
        if hide and out:
            out.pop("reasoning_content", None)
        return out

    async def events(self, body: Extensions, plan: Plan, stream: ResponseStream, rid: str, n_prompt: int,
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
        deadline = asyncio.get_running_loop().call_later(self.limits.timeout_s, stream.queue.put_nowait,
                                                         ("timeout", None))
        try:
            while True:
                kind, value = await stream.queue.get()
                if kind == "timeout":
                    stream.cancelled = True
                    yield sse(error_body(f"no answer within this server's {self.limits.timeout_s:g} s timeout",
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
                    self.gw.metrics.solved(plan.model.name, sol, self.gw.reference.get(plan.model.name, 0.0))
                    # Logprobs come whole with the last chunk (the stream's text pieces are not token-aligned).
                    lps = self.logprobs_of(plan, sol, chat, raw_text(sol, fmt.spec) if not chat else "")
                    yield piece(delta={}, text="", finish=finish_reason(sol), logprobs=lps)
                    if body.include_usage():
                        yield piece(use=usage(sol, n_prompt, **output_counting(fmt, body)))
                    self.gw.metrics.latency.labels(body.model, "/v1/chat/completions" if chat else "/v1/completions"
                                              ).observe(time.perf_counter() - t0)
                    break
            yield "data: [DONE]\n\n"
        finally:  # the client went away, or we are done: either way its generation stops
            deadline.cancel()
            if not done:
                stream.cancelled = True
