"""HTTP engine for any OpenAI-compatible `/v1/completions` server (vLLM, SGLang, llama.cpp).

Prompts go as token ids, so counts and the server's prefix-cache hits are exact; output token ids
come back where the server offers them (vLLM's `return_token_ids`), else the text is re-tokenized
locally. Probing methods rely on the server's own prefix caching (vLLM: on by default). A request with a sink
gets its text when its call returns (no token streaming from the upstream server), and a cancelled
one is not sent.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from brevity.engines.base import Completion, EngineCapabilityError, ProgressFn, Request, apply_stop
from brevity.errors import BrevityError
from brevity.formats import resolve_format


class OpenAIEngine:
    name = "openai"

    def __init__(self, model: str, base_url: str = "http://127.0.0.1:8000/v1", tokenizer: str | None = None,
                 api_key: str | None = None, timeout: float = 600.0, retries: int = 3, batch_size: int = 32,
                 reasoning_format: str | None = None, answer_tokens: int | None = None):
        from transformers import AutoTokenizer

        self.base_url = base_url.rstrip("/")
        self.served_name = model
        tok_path = tokenizer or model
        if not Path(tok_path).is_dir():
            raise BrevityError(f"openai engine needs a local tokenizer folder (tokenizer=...), got {tok_path!r}")
        self.model_path = Path(tok_path)
        self.model_name = self.model_path.name
        self.tokenizer = AutoTokenizer.from_pretrained(tok_path)
        self.format = resolve_format(self.tokenizer, tok_path, reasoning_format, answer_tokens)
        self.batch_size, self.retries = batch_size, retries
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.Client(timeout=timeout, headers=headers)
        self.cache = None

    def model(self):
        raise EngineCapabilityError("the openai engine has no access to the network's weights or hidden states; "
                                    "use the hf engine for latent methods")

    def encode(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False).input_ids

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=False)

    def _post(self, body: dict) -> dict:
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            try:
                r = self.client.post(f"{self.base_url}/completions", json=body)
                if r.status_code < 500:
                    if r.status_code >= 400:
                        raise BrevityError(f"server answered {r.status_code}: {r.text[:300]}")
                    return r.json()
                last = RuntimeError(f"{r.status_code}: {r.text[:200]}")
            except httpx.TransportError as e:
                last = e
            time.sleep(min(8.0, 0.5 * 2**attempt))
        raise BrevityError(f"no answer from {self.base_url} after {self.retries + 1} tries: {last}")

    def complete(self, requests: list[Request], progress: ProgressFn | None = None) -> list[Completion]:
        out: list[Completion] = []
        for start in range(0, len(requests), self.batch_size):
            chunk = requests[start:start + self.batch_size]
            # One HTTP call per decoding setting; the server batches the prompts itself.
            groups: dict[tuple, list[int]] = {}
            for i, r in enumerate(chunk):
                groups.setdefault(r.decode_key(), []).append(i)
            results: list[Completion | None] = [None] * len(chunk)
            for idx in groups.values():
                live = []
                for i in idx:
                    r = chunk[i]
                    if r.sink is not None and r.sink.cancelled:
                        prompt = list(r.prompt) if not isinstance(r.prompt, str) else self.encode(r.prompt)
                        results[i] = Completion(prompt_ids=prompt, token_ids=[], text="", finish_reason="length")
                    else:
                        live.append(i)
                for i, c in zip(live, self._call([chunk[i] for i in live]) if live else []):
                    results[i] = c
                    if chunk[i].sink is not None:
                        chunk[i].sink.write(c.text)
            out.extend(results)  # type: ignore[arg-type]
            if progress:
                progress(len(chunk))
        return out

    def _call(self, reqs: list[Request]) -> list[Completion]:
        r0 = reqs[0]
        prompts = [list(r.prompt) if not isinstance(r.prompt, str) else self.encode(r.prompt) for r in reqs]
        body = {"model": self.served_name, "prompt": prompts, "max_tokens": r0.max_tokens,
                "temperature": r0.temperature, "skip_special_tokens": False, "spaces_between_special_tokens": False,
                "return_token_ids": True, "repetition_penalty": 1.0, "repeat_penalty": 1.0}
        if r0.stop:
            body["stop"] = list(r0.stop)
        if r0.seed is not None:
            body["seed"] = r0.seed
        if r0.logprobs:
            body["logprobs"] = 1
        if r0.thinking_budget is not None:
            body["thinking_token_budget"] = r0.thinking_budget
        if r0.logit_bias:
            body["logit_bias"] = {str(t): b for t, b in r0.logit_bias}
        data = self._post(body)
        choices = sorted(data["choices"], key=lambda c: c["index"])
        comps = []
        for p, ch in zip(prompts, choices):
            text = ch.get("text") or ""
            ids = ch.get("token_ids")
            if ids is None:
                ids = self.encode(text)
            stop_reason = ch.get("stop_reason") if isinstance(ch.get("stop_reason"), str) else None
            if r0.stop and stop_reason is None:
                text2, which = apply_stop(text, r0.stop)
                if which:
                    text, stop_reason = text2, which
            if ids and ids[-1] in self.format.stop_ids:
                text = self.decode(ids[:-1])
            if stop_reason is not None:  # token ids without the stop string, as the hf engine returns them
                while ids and not text.startswith(self.decode(ids)):
                    ids = ids[:-1]
            lp = None
            if r0.logprobs and ch.get("logprobs"):
                lp = list(ch["logprobs"].get("token_logprobs") or [])[:len(ids)]
            comps.append(Completion(prompt_ids=p, token_ids=list(ids), text=text,
                                    finish_reason=ch.get("finish_reason") or "stop", stop_reason=stop_reason,
                                    logprobs=lp))
        return comps
