"""HTTP engine for any OpenAI-compatible `/v1/completions` server (vLLM, SGLang, llama.cpp).

Prompts go as token ids, so counts and the server's prefix-cache hits are exact; a server whose API takes only text
prompts (llama-cpp-python's) answers the first such call with 422, and from then on the engine sends the ids' exact
text (special tokens written out, which such servers parse). Output token ids come back where the server offers
them (vLLM's `return_token_ids`), else the text is re-tokenized locally. Each prompt is its own HTTP call and up to
`concurrency` of them are in flight at once, so the server's continuous batching sees them together. The HTTP calls
run in worker threads; the one tokenizer is behind a lock. Failed calls (429, 5xx, transport errors) are retried
with backoff, so one 503 from a shared server does not end a long run. Probing methods rely on the server's own
prefix caching (vLLM: on by default). A request whose sink wants text is sent with `stream: true` and its text is
relayed as the upstream streams it (a tail that may still become a stop string held back, as the hf engine does),
so a served stream's first token arrives when the upstream's does; a cancelled request is not sent, and one
cancelled mid-stream is closed, which aborts it upstream. Sampling settings (temperature, top_p, top_k, seed) and
logprobs / top_logprobs go to the upstream and come back on the Completion.
"""

from __future__ import annotations

import dataclasses
import json
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import httpx

from brevity.engines.base import Completion, EngineCapabilityError, ProgressFn, Request, Shaping, apply_stop
from brevity.engines.sampling import sampling_defaults
from brevity.engines.streaming import safe_length
from brevity.errors import BrevityError
from brevity.formats import resolve_format

RETRY_STATUS = (408, 409, 429)  # and every 5xx


def list_models(base_url: str, api_key: str | None = None, timeout: float = 10.0) -> list[str]:
    """The model names a server lists at GET /models; a one-line error when nothing answers there."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    url = f"{base_url.rstrip('/')}/models"
    try:
        r = httpx.get(url, headers=headers, timeout=timeout)
    except httpx.TransportError as e:
        raise BrevityError(f"no OpenAI-compatible server answers at {base_url} ({type(e).__name__}); start one "
                           "there or fix --url (it ends in /v1)") from None
    if r.status_code in (401, 403):
        raise BrevityError(f"{url} refused the API key ({r.status_code}); give the right --api-key")
    if r.status_code != 200:
        raise BrevityError(f"{url} answered {r.status_code}, not a model list; is --url the server's /v1 base?")
    try:
        return [m["id"] for m in r.json()["data"]]
    except (ValueError, KeyError, TypeError):
        raise BrevityError(f"{url} did not answer with an OpenAI model list; is --url the server's /v1 base?") from None


class OpenAIEngine:
    name = "openai"

    def __init__(self, model: str, base_url: str = "http://127.0.0.1:8000/v1", tokenizer: str | None = None,
                 api_key: str | None = None, timeout: float = 600.0, retries: int = 6, concurrency: int = 64,
                 backoff_s: float = 0.5, model_name: str | None = None, verify: bool = True,
                 reasoning_format: str | None = None, answer_tokens: int | None = None):
        """`model` is the server's name for the model; `tokenizer` a local folder with its tokenizer (default:
        `model`, when that is a folder). `verify` asks the server's model list for `model` first, so a wrong
        URL or name fails here with one line, not mid-run."""
        from transformers import AutoTokenizer

        if concurrency < 1:
            raise BrevityError(f"concurrency must be at least 1 request in flight, got {concurrency}")
        self.base_url = base_url.rstrip("/")
        self.served_name = model
        tok_path = tokenizer or model
        if not Path(tok_path).is_dir():
            raise BrevityError(f"openai engine needs a local tokenizer folder (tokenizer=...), got {tok_path!r}")
        if verify:
            served = list_models(self.base_url, api_key, timeout=min(timeout, 10.0))
            if model not in served:
                raise BrevityError(f"the server at {self.base_url} does not serve {model!r}; it lists "
                                   f"{', '.join(served) or 'nothing'} (pass one of them as --served-model)")
        self.model_path = Path(tok_path)
        self.model_name = model_name or self.model_path.name
        self.tokenizer = AutoTokenizer.from_pretrained(tok_path)
        self._tok_lock = threading.Lock()  # one Rust tokenizer, callers on several threads
        self.format = resolve_format(self.tokenizer, tok_path, reasoning_format, answer_tokens)
        self.sampling_defaults = sampling_defaults(tok_path)
        # A stream holds back these too: a server that writes its end-of-turn token's text (skip_special_tokens
        # false) must not have it relayed, since the Completion's text leaves it out.
        self._end_texts = tuple(t for t in (self.decode([i]) for i in self.format.stop_ids) if t)
        # A stop string that is one token of the vocabulary (the closing marker, in most formats) goes upstream as
        # that token's id: vLLM holds a stream back by the longest stop string's length less one character,
        # which would delay every thinking call's first token by a few tokens; a stop id delays nothing.
        close = self.format.spec.close
        self._token_stops = {close: self.format.close_ids[0]} if close and len(self.format.close_ids) == 1 \
            and self.decode(self.format.close_ids) == close else {}
        self.concurrency, self.retries, self.backoff_s = concurrency, retries, backoff_s
        self.parallel_calls = concurrency  # the upstream batches: callers need not wait for each other
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        self.client = httpx.Client(timeout=timeout, headers=headers, limits=limits)
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="brevity-http")
        self.cache = None
        self.text_prompts = False  # set once the server refuses token-id prompts

    def model(self):
        raise EngineCapabilityError("the openai engine has no access to the network's weights or hidden states; "
                                    "use the hf engine for latent methods")

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.client.close()

    def encode(self, text: str) -> list[int]:
        with self._tok_lock:
            return self.tokenizer(text, add_special_tokens=False).input_ids

    def decode(self, ids: list[int]) -> str:
        with self._tok_lock:
            return self.tokenizer.decode(ids, skip_special_tokens=False)

    def _post(self, body: dict, sink=None, stops: tuple[str, ...] = ()) -> tuple[dict, str]:
        """One call, retried on 429, 5xx and transport errors with exponential backoff (the server's
        Retry-After when it gives one); any other 4xx is the request's fault and fails at once. With a `sink`
        the call streams and its text is relayed as it comes; it is retried only while nothing was relayed.
        Returns the choice (streamed chunks merged into one) and the text already relayed."""
        last = ""
        for attempt in range(self.retries + 1):
            wait = min(30.0, self.backoff_s * 2**attempt) * (0.75 + 0.5 * random.random())
            relay = _Relay(sink, stops) if sink is not None else None
            try:
                if relay is None:
                    r = self.client.post(f"{self.base_url}/completions", json=body)
                    if r.status_code == 200:
                        return r.json()["choices"][0], ""
                else:
                    with self.client.stream("POST", f"{self.base_url}/completions",
                                            json={**body, "stream": True}) as r:
                        if r.status_code == 200:
                            return relay.run(r.iter_lines()), relay.sent
                        r.read()
                if self._refuses_ids(r, body):
                    self.text_prompts = True
                if self.text_prompts and not isinstance(body["prompt"], str):
                    body = {**body, "prompt": self.decode(body["prompt"])}
                    continue
                if r.status_code < 500 and r.status_code not in RETRY_STATUS:
                    raise BrevityError(f"{self.base_url} answered {r.status_code}: {r.text[:300]}")
                last = f"{r.status_code}: {r.text[:200]}"
                retry_after = r.headers.get("retry-after", "")
                if retry_after.isdigit():
                    wait = min(60.0, float(retry_after))
            except httpx.TransportError as e:
                if relay is not None and relay.sent:  # text already went out: a retry would repeat it
                    raise BrevityError(f"{self.base_url} broke off a streamed completion: {type(e).__name__}: {e}"
                                       ) from None
                last = f"{type(e).__name__}: {e}"
            if attempt < self.retries:
                time.sleep(wait)
        raise BrevityError(f"no answer from {self.base_url} after {self.retries + 1} tries: {last}")

    @staticmethod
    def _refuses_ids(r: httpx.Response, body: dict) -> bool:
        """A 422 that names the prompt, to a prompt of token ids: the server takes text prompts only."""
        return r.status_code == 422 and not isinstance(body["prompt"], str) and "prompt" in r.text

    def complete(self, requests: list[Request], progress: ProgressFn | None = None) -> list[Completion]:
        if any(r.kv is not None and r.kv.evicts for r in requests):
            raise EngineCapabilityError(f"KV-cache policies evict inside the hf engine; the {self.name} engine's server "
                                        "keeps its own cache: use --engine hf, or the policy full")
        results: list[Completion | None] = [None] * len(requests)
        prompts = [list(r.prompt) if not isinstance(r.prompt, str) else self.encode(r.prompt) for r in requests]
        calls = {}
        for i, (r, p) in enumerate(zip(requests, prompts)):
            if r.sink is not None and r.sink.cancelled:
                results[i] = Completion(prompt_ids=p, token_ids=[], text="", finish_reason="length")
            else:
                streamed = r.sink is not None and r.sink.wants_text
                calls[i] = (self._body(r, p), r.sink if streamed else None, (*r.stop, *self._end_texts))

        def done(i: int, answer: tuple[dict, str]) -> None:
            choice, sent = answer
            results[i] = c = self._completion(requests[i], prompts[i], choice)
            sink, full = requests[i].sink, c.text + c.stop_tail
            if sink is not None and full.startswith(sent):  # what the stream held back, or all of it
                sink.write(full[len(sent):])
            if progress:
                progress(1)

        if len(calls) == 1:  # made on this thread: a hop to the pool would delay a served first token
            (i, args), = calls.items()
            done(i, self._post(*args))
            return results  # type: ignore[return-value]
        futures = {self.pool.submit(self._post, *args): i for i, args in calls.items()}
        try:
            for fut in as_completed(futures):
                done(futures[fut], fut.result())
        finally:
            for fut in futures:  # a failed call ends the batch: the rest are not sent
                fut.cancel()
        return results  # type: ignore[return-value]

    def _body(self, r: Request, prompt: list[int]) -> dict:
        stops = [s for s in r.stop if s not in self._token_stops]
        body = {"model": self.served_name, "prompt": self.decode(prompt) if self.text_prompts else prompt,
                "max_tokens": r.max_tokens,
                "temperature": r.temperature if r.sampled else 0.0,
                "skip_special_tokens": False, "spaces_between_special_tokens": False,
                "return_token_ids": True, "repetition_penalty": r.shaping.repetition_penalty,
                "repeat_penalty": r.shaping.repetition_penalty}  # vLLM's and llama.cpp's names
        if stops:
            body["stop"] = stops
        if r.sampled:
            body.update(top_p=r.top_p, **({"top_k": r.top_k} if r.top_k else {}))
        if r.seed is not None:
            body["seed"] = r.seed
        if r.logprobs or r.top_logprobs:  # token ids as "token_id:N" (vLLM), so top entries map back to ids
            body.update(logprobs=max(1, r.top_logprobs), return_tokens_as_token_ids=True)
        if r.thinking_budget is not None:
            body["thinking_token_budget"] = r.thinking_budget
        if r.logit_bias:
            body["logit_bias"] = {str(t): b for t, b in r.logit_bias}
        for f in dataclasses.fields(Shaping):  # vLLM's own names; only those that ask for something
            if f.name != "repetition_penalty" and (v := getattr(r.shaping, f.name)) != f.default:
                body[f.name] = list(v) if isinstance(v, tuple) else v
        if by_id := [self._token_stops[s] for s in r.stop if s in self._token_stops]:
            body["stop_token_ids"] = [*body.get("stop_token_ids", []), *by_id]
        return body

    def _completion(self, r: Request, prompt: list[int], ch: dict) -> Completion:
        """A choice as the hf engine would return it: no stop string, no EOS in the text, and token ids
        that spell the text."""
        text = ch.get("text") or ""
        ids = ch.get("token_ids")
        if ids is None:
            ids = self.encode(text)
        stop_reason = ch.get("stop_reason") if isinstance(ch.get("stop_reason"), str) else None
        by_id = {i: s for s, i in self._token_stops.items() if s in r.stop}
        if ids and ch.get("stop_reason") in by_id and ids[-1] == ch["stop_reason"]:  # a stop string sent as its id
            stop_reason, ids = by_id[ids[-1]], ids[:-1]
            text = self.decode(ids)
        if r.stop and stop_reason is None:
            text2, which = apply_stop(text, r.stop)
            if which:
                text, stop_reason = text2, which
        if ids and (ids[-1] in self.format.stop_ids or ids[-1] in r.shaping.stop_token_ids):
            text = self.decode(ids[:-1])
        tail = ""
        if stop_reason is not None:  # token ids without the stop string, as the hf engine returns them
            while ids and not text.startswith(self.decode(ids)):
                ids = ids[:-1]
            kept = self.decode(ids)
            text, tail = kept, text[len(kept):] + (stop_reason if stop_reason in r.keep_stop else "")
        lp = tops = None
        if (r.logprobs or r.top_logprobs) and ch.get("logprobs"):
            lp = list(ch["logprobs"].get("token_logprobs") or [])[:len(ids)]
            if r.top_logprobs:
                tops = [sorted(((self._token_id(t), v) for t, v in (d or {}).items()), key=lambda x: -x[1])
                        [:r.top_logprobs] for d in (ch["logprobs"].get("top_logprobs") or [])][:len(ids)]
        return Completion(prompt_ids=prompt, token_ids=list(ids), text=text, stop_tail=tail,
                          finish_reason=ch.get("finish_reason") or "stop", stop_reason=stop_reason,
                          logprobs=lp if r.logprobs else None, top_logprobs=tops)

    def _token_id(self, token: str) -> int:
        """A logprobs entry's token as an id: vLLM's "token_id:N", else the token's vocabulary string."""
        if token.startswith("token_id:") and token[9:].isdigit():
            return int(token[9:])
        tid = self.tokenizer.convert_tokens_to_ids(token)
        if tid is None or tid == self.tokenizer.unk_token_id:
            ids = self.encode(token)
            tid = ids[0] if len(ids) == 1 else -1
        return tid


class _Relay:
    """A streamed upstream completion: relays its text to the sink as it comes (holding back a tail that may
    still become a stop string) and merges its chunks into one choice, as the non-streamed call returns it."""

    def __init__(self, sink, stops: tuple[str, ...]):
        self.sink, self.stops = sink, stops
        self.text, self.sent = "", ""
        self.choice: dict = {"text": "", "token_ids": None, "finish_reason": None, "stop_reason": None}
        self.logprobs: dict[str, list] = {}

    def run(self, lines) -> dict:
        for line in lines:
            if self.sink.cancelled:  # closing the stream aborts the request upstream
                self.choice["finish_reason"] = self.choice["finish_reason"] or "length"
                break
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                break
            for ch in json.loads(data).get("choices") or []:
                self._merge(ch)
        self.choice["text"] = self.text
        if self.logprobs:
            self.choice["logprobs"] = self.logprobs
        return self.choice

    def _merge(self, ch: dict) -> None:
        if ch.get("token_ids") is not None:
            self.choice["token_ids"] = (self.choice["token_ids"] or []) + list(ch["token_ids"])
        for k in ("finish_reason", "stop_reason"):
            if ch.get(k) is not None:
                self.choice[k] = ch[k]
        for k, v in (ch.get("logprobs") or {}).items():
            if isinstance(v, list):
                self.logprobs.setdefault(k, []).extend(v)
        piece = ch.get("text") or ""
        if piece:
            self.text += piece
            cut, which = apply_stop(self.text, self.stops)
            upto = len(cut) if which else safe_length(self.text, self.stops)
            if upto > len(self.sent):
                self.sink.write(self.text[len(self.sent):upto])
                self.sent = self.text[:upto]
