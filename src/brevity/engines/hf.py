"""The in-process transformers engine: batched `generate` with left padding and prefix caching."""

from __future__ import annotations

import threading
from collections import defaultdict
from pathlib import Path

import torch
from transformers import LogitsProcessorList
from transformers.generation.stopping_criteria import StoppingCriteriaList, StopStringCriteria

from brevity.engines.base import Completion, EngineCapabilityError, ProgressFn, Request, finish_row
from brevity.engines.evicting_cache import EvictingCache, RowsDone, RowState, evicting, policy_room, rope_of
from brevity.engines.growable_cache import GrowableCache
from brevity.engines.kv_policy import FULL, KVPolicy
from brevity.engines.prefix_cache import PrefixCache
from brevity.engines.sampling import RowProcessor, RowStopIds, sampling_defaults
from brevity.engines.streaming import BatchStreamer, CancelledRows, RowStream
from brevity.formats import resolve_format

MAX_STOP_SETS = 64  # stop-string criteria kept per engine


def load_model_folder(path: str | Path, device: str | None = None, dtype: torch.dtype = torch.float32):
    """Model and tokenizer from an HF folder; weights from safetensors only."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from brevity.errors import BrevityError

    path = Path(path)
    if not any(path.glob("*.safetensors")):
        raise BrevityError(f"{path} has no .safetensors weights; Brevity loads weights from safetensors only")
    tok = AutoTokenizer.from_pretrained(path)
    tok.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, use_safetensors=True)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    return model.to(device).eval(), tok


class HFEngine:
    """Continues prefixes with `model.generate`; requests with equal lengths, stops and biases share a batch,
    each row sampled with its own settings and generator (engines/sampling.py)."""

    name = "hf"
    parallel_calls = 1  # one model, decoded one batch at a time by its owner thread

    def __init__(self, model_path: str | Path, batch_size: int = 32, device: str | None = None,
                 prefix_cache: bool = True, cache_bytes: int = 512 * 2**20, reasoning_format: str | None = None,
                 answer_tokens: int | None = None):
        model, tokenizer = load_model_folder(model_path, device)
        self._setup(model, tokenizer, Path(model_path), batch_size, prefix_cache, cache_bytes)
        self.format = resolve_format(tokenizer, model_path, reasoning_format, answer_tokens)
        self.eos_ids = set(self.format.stop_ids)

    @classmethod
    def from_model(cls, model, tokenizer, batch_size: int = 32, prefix_cache: bool = False,
                   cache_bytes: int = 512 * 2**20) -> HFEngine:
        """An engine over a model already in memory (a recipe's policy during RL); no prefix cache by
        default, since its weights change between calls."""
        engine = cls.__new__(cls)
        engine._setup(model, tokenizer, Path(getattr(model.config, "_name_or_path", "") or "in-memory"),
                      batch_size, prefix_cache, cache_bytes)
        return engine

    def _setup(self, model, tokenizer, path: Path, batch_size: int, prefix_cache: bool, cache_bytes: int) -> None:
        self.model_path = path
        self.model_name = path.name
        self._model, self.tokenizer = model, tokenizer
        self.device = model.device
        self.batch_size = batch_size
        self.cache = PrefixCache(cache_bytes) if prefix_cache else None
        self.format = resolve_format(tokenizer, path if path.is_dir() else None)
        self.sampling_defaults = sampling_defaults(path if path.is_dir() else None)
        self.eos_ids = set(self.format.stop_ids)
        self.generated_tokens = 0
        self.kv_policy: KVPolicy = FULL  # the default for requests that name none (Request.kv)
        self._policy_caches: dict[KVPolicy, PrefixCache] = {}
        self._stops: dict[tuple[str, ...], StopStringCriteria] = {}
        # Calls from several threads take turns (a route's in-process side engine, called by the parallel
        # batches of a gateway whose main model is upstream); a single owner thread never waits.
        self._busy = threading.RLock()

    def model(self):
        return self._model

    def clear_caches(self) -> None:
        """Forget every cached prefix (the bench's cold-cache latency runs), the policies' evicted states too."""
        if self.cache is not None:
            self.cache.clear()
        self._policy_caches.clear()

    def encode(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False).input_ids

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=False)

    def complete(self, requests: list[Request], progress: ProgressFn | None = None) -> list[Completion]:
        if any(r.thinking_budget is not None for r in requests):
            raise EngineCapabilityError("the hf engine has no native thinking budget; use budget:N (native=false)")
        with self._busy:
            return self._complete(requests, progress)

    def _complete(self, requests: list[Request], progress: ProgressFn | None) -> list[Completion]:
        results: list[Completion | None] = [None] * len(requests)
        groups: dict[tuple, list[int]] = defaultdict(list)
        for i, r in enumerate(requests):
            groups[r.decode_key()].append(i)
        for idx in groups.values():
            ids = {i: tuple(self.encode(requests[i].prompt)) if isinstance(requests[i].prompt, str)
                   else tuple(requests[i].prompt) for i in idx}
            idx = sorted(idx, key=lambda i: len(ids[i]))
            for start in range(0, len(idx), self.batch_size):
                chunk = idx[start:start + self.batch_size]
                for i, c in zip(chunk, self._generate([ids[i] for i in chunk], [requests[i] for i in chunk])):
                    results[i] = c
                if progress:
                    progress(len(chunk))
        return results  # type: ignore[return-value]

    @torch.inference_mode()
    def _generate(self, prompts: list[tuple[int, ...]], reqs: list[Request]) -> list[Completion]:
        req = reqs[0]  # the decoding settings, equal across the batch
        if req.max_tokens <= 0:
            return [Completion(prompt_ids=list(p), token_ids=[], text="", finish_reason="length") for p in prompts]
        policy = req.kv or self.kv_policy
        pad = self.tokenizer.pad_token_id
        if policy.evicts:
            states = [self._resume(policy, p) for p in prompts]
            hits = [(n, None) for n, _, _ in states]
        else:
            hits = [self.cache.lookup(p) if self.cache else (0, None) for p in prompts]
        c_max = max(n for n, _ in hits)
        s_max = max(len(p) - n for p, (n, _) in zip(prompts, hits))
        rows, masks = [], []
        for p, (n, _) in zip(prompts, hits):
            rows.append([pad] * (c_max - n) + list(p[:n]) + [pad] * (s_max - len(p) + n) + list(p[n:]))
            masks.append([0] * (c_max - n) + [1] * n + [0] * (s_max - len(p) + n) + [1] * (len(p) - n))
        input_ids = torch.tensor(rows, device=self.device)
        attention = torch.tensor(masks, device=self.device)
        if policy.evicts:
            cache = EvictingCache(policy, self._model.config.get_text_config().num_hidden_layers, len(prompts),
                                  s_max + policy_room(policy, req.max_tokens), rope_of(self._model))
            cache.start([st for _, st, _ in states], attention, c_max, [pr for _, _, pr in states], self._model)
        elif c_max:  # room for the uncached prompt tokens and every new token: the buffers never grow (copy) again
            cache = GrowableCache.from_rows([kv for _, kv in hits], c_max, c_max + s_max + max(1, req.max_tokens))
        else:
            cache = GrowableCache()
        kwargs = {"cache": cache}
        want_logits = any(q.logprobs or q.top_logprobs for q in reqs)
        gen = dict(max_new_tokens=max(1, req.max_tokens), pad_token_id=pad, eos_token_id=list(self.eos_ids),
                   return_dict_in_generate=True, output_logits=want_logits, use_cache=True,
                   do_sample=False, temperature=None, top_p=None, top_k=None)
        start = input_ids.shape[1]
        if any(q.sampled or q.shaped for q in reqs):  # each row shaped and drawn by its own settings
            gen["logits_processor"] = LogitsProcessorList([RowProcessor(reqs, self.device, prompts, start,
                                                                        self.eos_ids, self.tokenizer)])
        criteria = [self._stop_criteria(req.stop)] if req.stop else []
        if any(q.shaping.ignore_eos for q in reqs):  # generate's eos would end every row: each row's own stop ids
            gen["eos_token_id"] = None
            criteria.append(RowStopIds([self._stop_ids(q) for q in reqs], start))
        elif any(q.shaping.stop_token_ids for q in reqs):
            criteria.append(RowStopIds([set(q.shaping.stop_token_ids) for q in reqs], start))
        if req.logit_bias:
            gen["sequence_bias"] = {(t,): b for t, b in req.logit_bias}
        streams = {r: RowStream(q.sink, self.decode, q.stop, self._stop_ids(q)) for r, q in enumerate(reqs)
                   if q.sink is not None and q.sink.wants_text}
        if streams:
            gen["streamer"] = BatchStreamer(streams)
        if any(q.sink is not None for q in reqs):
            criteria.append(CancelledRows([q.sink for q in reqs]))
        if policy.evicts:  # a finished row takes no more slots: its cache is what it would be alone
            criteria = [RowsDone(cache, StoppingCriteriaList(criteria), gen["eos_token_id"])]
        if criteria:
            gen["stopping_criteria"] = StoppingCriteriaList(criteria)
        if policy.evicts:
            with evicting(self._model, cache):
                out = self._model.generate(input_ids=input_ids, attention_mask=attention, **kwargs, **gen)
        else:
            out = self._model.generate(input_ids=input_ids, attention_mask=attention, **kwargs, **gen)
        new = out.sequences[:, input_ids.shape[1]:].tolist()
        logps = tops = None
        if want_logits:  # the model's own distribution (raw logits: before temperature, bias and sampling)
            steps = torch.stack(out.logits, dim=1).float().log_softmax(-1)  # [B, T, V]
            logps = steps.gather(-1, out.sequences[:, input_ids.shape[1]:].unsqueeze(-1)).squeeze(-1).tolist()
            k = max(q.top_logprobs for q in reqs)
            if k:
                vals, ids = steps.topk(min(k, steps.shape[-1]), dim=-1)
                tops = [[list(zip(i_t, v_t)) for i_t, v_t in zip(i_r, v_r)]
                        for i_r, v_r in zip(ids.tolist(), vals.tolist())]
        completions = []
        for r, (p, toks) in enumerate(zip(prompts, new)):
            q = reqs[r]
            comp = self._finish(p, toks, q, logps[r] if logps and q.logprobs else None,
                                [t[:q.top_logprobs] for t in tops[r]] if tops and q.top_logprobs else None)
            comp.cached_tokens = hits[r][0]
            if policy.evicts:
                comp.extra["kv"] = cache.stats(r, self._slot_bytes())
            if r in streams:
                streams[r].finish(comp.text + comp.stop_tail)
            completions.append(comp)
        if policy.evicts:
            self._store_states(policy, cache, prompts, reqs, completions)
        elif self.cache is not None and out.cache is not None:
            self._store(out.cache, masks, prompts, reqs, completions)
        return completions

    # --- KV-cache policies (brevity.engines.kv_policy) -------------------------------------------------------
    def _policy_cache(self, policy: KVPolicy) -> PrefixCache:
        """Each policy has its own prefix cache: its entries are evicted states, which only that policy resumes."""
        if policy not in self._policy_caches:
            self._policy_caches[policy] = PrefixCache(self.cache.max_bytes if self.cache else 512 * 2**20)
        return self._policy_caches[policy]

    def kept_positions(self, policy: KVPolicy, tokens: tuple[int, ...]) -> list[torch.Tensor] | None:
        """Per layer [kv_heads, slots]: the positions of the tokens a sequence decoded under `policy` still holds in
        its cache (the state its last call left, kept by the policy's prefix cache), or None if none is kept."""
        n, entry = self._policy_cache(policy).find(tuple(tokens) + (-1,))  # -1: the lookup leaves one token to run
        if entry is None or n != len(tokens):
            return None
        return [p.clone() for p in entry.state.positions]

    def _resume(self, policy: KVPolicy, prompt: tuple[int, ...]) -> tuple[int, RowState | None, bool]:
        """What of `prompt` the policy's cache holds: (tokens covered, their state, whether the tokens after them
        are prompt). A sequence continued where its last call ended resumes its evicted state exactly (the last
        token re-run); a new prompt sharing a cached prompt's start reuses that start; a sequence that diverges
        inside its trace keeps its prompt and decodes the rest as trace. These states are kept whether or not the
        engine's own prefix cache is on: without them a continuation would hold its whole trace as prompt."""
        n, entry = self._policy_cache(policy).find(prompt)
        if entry is None:
            return 0, None, True
        state: RowState = entry.state
        if n >= state.tokens - 1 and n >= state.protected_len:
            resumed = state.upto(n)
            if resumed is not None:
                return n, resumed, False
        new_prompt = n <= state.protected_len
        # A new prompt re-runs its last `observe` tokens: their queries score the first compressions, as in a
        # decode that never met the cache.
        keep = max(0, min(n, state.protected_len) - (policy.observe if new_prompt else 0))
        return keep, state.prompt_only(keep, rope_of(self._model)), new_prompt

    def _store_states(self, policy: KVPolicy, cache: EvictingCache, prompts, reqs, completions) -> None:
        store = self._policy_cache(policy)
        for r, (p, comp) in enumerate(zip(prompts, completions)):
            if not reqs[r].keep_cache:
                continue
            tokens = tuple(p) + tuple(comp.token_ids)
            state = cache.state(r, len(tokens))
            if state is not None:
                store.put(tokens[:state.tokens], [], state)

    def _slot_bytes(self) -> int:
        """Bytes one cached token takes across the layers (keys and values)."""
        cfg = self._model.config.get_text_config()
        heads = getattr(cfg, "num_key_value_heads", None) or cfg.num_attention_heads
        dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
        return 2 * cfg.num_hidden_layers * heads * dim * self._model.dtype.itemsize

    def _stop_ids(self, req: Request) -> set[int]:
        """The ids that end this row: the model's eos ids (unless ignore_eos) and the request's stop_token_ids."""
        return (set() if req.shaping.ignore_eos else set(self.eos_ids)) | set(req.shaping.stop_token_ids)

    def _stop_criteria(self, stops: tuple[str, ...]) -> StopStringCriteria:
        """transformers' stop-string criterion, built once per set of stop strings: building it scans the
        whole vocabulary (seconds per call on a 150k-token one)."""
        if stops not in self._stops:
            self._stops[stops] = StopStringCriteria(self.tokenizer, list(stops))
            while len(self._stops) > MAX_STOP_SETS:  # requests choose their stop strings: keep the recent ones
                self._stops.pop(next(iter(self._stops)))
        return self._stops[stops]

    def _finish(self, prompt: tuple[int, ...], toks: list[int], req: Request, logps, tops=None) -> Completion:
        """Trim padding after EOS, apply stop strings, and cut token ids to match the text."""
        toks, text, finish, stop_reason, tail = finish_row(toks, self._stop_ids(req), req.stop, self.decode,
                                                           req.keep_stop)
        self.generated_tokens += len(toks)
        return Completion(prompt_ids=list(prompt), token_ids=toks, text=text, finish_reason=finish,
                          stop_reason=stop_reason, stop_tail=tail, logprobs=logps[:len(toks)] if logps else None,
                          top_logprobs=tops[:len(toks)] if tops else None)

    def _store(self, cache, masks, prompts, reqs, completions) -> None:
        """Keep each row's KV (real positions only) keyed by its tokens, for later continuations."""
        kv_len = cache.get_seq_length()
        for r, (p, comp) in enumerate(zip(prompts, completions)):
            if not reqs[r].keep_cache:
                continue
            width = len(masks[r])
            positions = [j for j, m in enumerate(masks[r]) if m] + list(range(width, width + len(comp.token_ids)))
            positions = [j for j in positions if j < kv_len]
            tokens = (tuple(p) + tuple(comp.token_ids))[:len(positions)]
            if not positions:
                continue
            index = torch.tensor(positions, device=self.device)
            kv = [(layer.keys[r].index_select(1, index).clone(), layer.values[r].index_select(1, index).clone())
                  for layer in cache.layers]
            self.cache.put(tokens, kv)
