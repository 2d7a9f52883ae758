"""HTTP engine for any OpenAI-compatible `/v1/completions` server (vLLM, SGLang, llama.cpp).

Prompts go as token ids, so counts and the server's prefix-cache hits are exact; output token ids
come back where the server offers them (vLLM's `return_token_ids`), else the text is re-tokenized
locally. Each prompt is its own HTTP call and up to `concurrency` of them are in flight at once, so
the server's continuous batching sees them together. Only the HTTP calls run in worker threads: the
tokenizer is used in the caller's thread alone. Failed calls (429, 5xx, transport errors) are retried
with backoff, so one 503 from a shared server does not end a long run. Probing methods rely on the
server's own prefix caching (vLLM: on by default). A request with a sink gets its text when its call
returns (no token streaming from the upstream server), and a cancelled one is not sent.
"""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import httpx

from brevity.engines.base import Completion, EngineCapabilityError, ProgressFn, Request, apply_stop
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
        self.format = resolve_format(self.tokenizer, tok_path, reasoning_format, answer_tokens)
        self.concurrency, self.retries, self.backoff_s = concurrency, retries, backoff_s
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        self.client = httpx.Client(timeout=timeout, headers=headers, limits=limits)
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="brevity-http")
        self.cache = None

    def model(self):
        raise EngineCapabilityError("the openai engine has no access to the network's weights or hidden states; "
                                    "use the hf engine for latent methods")

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.client.close()

    def encode(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False).input_ids

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=False)

    def _post(self, body: dict) -> dict:
        """One call, retried on 429, 5xx and transport errors with exponential backoff (the server's
        Retry-After when it gives one); any other 4xx is the request's fault and fails at once."""
        last = ""
        for attempt in range(self.retries + 1):
            wait = min(30.0, self.backoff_s * 2**attempt) * (0.75 + 0.5 * random.random())
            try:
                r = self.client.post(f"{self.base_url}/completions", json=body)
                if r.status_code == 200:
                    return r.json()
                if r.status_code < 500 and r.status_code not in RETRY_STATUS:
                    raise BrevityError(f"{self.base_url} answered {r.status_code}: {r.text[:300]}")
                last = f"{r.status_code}: {r.text[:200]}"
                retry_after = r.headers.get("retry-after", "")
                if retry_after.isdigit():
                    wait = min(60.0, float(retry_after))
            except httpx.TransportError as e:
                last = f"{type(e).__name__}: {e}"
            if attempt < self.retries:
                time.sleep(wait)
        raise BrevityError(f"no answer from {self.base_url} after {self.retries + 1} tries: {last}")

    def complete(self, requests: list[Request], progress: ProgressFn | None = None) -> list[Completion]:
        results: list[Completion | None] = [None] * len(requests)
        prompts = [list(r.prompt) if not isinstance(r.prompt, str) else self.encode(r.prompt) for r in requests]
        futures = {}
        for i, (r, p) in enumerate(zip(requests, prompts)):
            if r.sink is not None and r.sink.cancelled:
                results[i] = Completion(prompt_ids=p, token_ids=[], text="", finish_reason="length")
            else:
                futures[self.pool.submit(self._post, self._body(r, p))] = i
        try:
            for fut in as_completed(futures):
                i = futures[fut]
                results[i] = c = self._completion(requests[i], prompts[i], fut.result()["choices"][0])
                if requests[i].sink is not None:
                    requests[i].sink.write(c.text)
                if progress:
                    progress(1)
        finally:
            for fut in futures:  # a failed call ends the batch: the rest are not sent
                fut.cancel()
        return results  # type: ignore[return-value]

    def _body(self, r: Request, prompt: list[int]) -> dict:
        body = {"model": self.served_name, "prompt": prompt, "max_tokens": r.max_tokens,
                "temperature": r.temperature, "skip_special_tokens": False, "spaces_between_special_tokens": False,
                "return_token_ids": True, "repetition_penalty": 1.0, "repeat_penalty": 1.0}
        if r.stop:
            body["stop"] = list(r.stop)
        if r.seed is not None:
            body["seed"] = r.seed
        if r.logprobs:
            body["logprobs"] = 1
        if r.thinking_budget is not None:
            body["thinking_token_budget"] = r.thinking_budget
        if r.logit_bias:
            body["logit_bias"] = {str(t): b for t, b in r.logit_bias}
        return body

    def _completion(self, r: Request, prompt: list[int], ch: dict) -> Completion:
        """A choice as the hf engine would return it: no stop string, no EOS in the text, and token ids
        that spell the text."""
        text = ch.get("text") or ""
        ids = ch.get("token_ids")
        if ids is None:
            ids = self.encode(text)
        stop_reason = ch.get("stop_reason") if isinstance(ch.get("stop_reason"), str) else None
        if r.stop and stop_reason is None:
            text2, which = apply_stop(text, r.stop)
            if which:
                text, stop_reason = text2, which
        if ids and ids[-1] in self.format.stop_ids:
            text = self.decode(ids[:-1])
        if stop_reason is not None:  # token ids without the stop string, as the hf engine returns them
            while ids and not text.startswith(self.decode(ids)):
                ids = ids[:-1]
        lp = None
        if r.logprobs and ch.get("logprobs"):
            lp = list(ch["logprobs"].get("token_logprobs") or [])[:len(ids)]
        return Completion(prompt_ids=prompt, token_ids=list(ids), text=text,
                          finish_reason=ch.get("finish_reason") or "stop", stop_reason=stop_reason, logprobs=lp)
