"""A transformers cache that evicts trace tokens during decoding (brevity.engines.kv_policy), for `generate`.

Each layer keeps, per row of the batch, a set of slots: the prompt's (never evicted) and the trace's, each
slot remembering the token's original position (its key was rotated there, and stays so: R-KV, H2O). Before a
row's new trace tokens are appended, the layer makes room by the policy's scores, so the trace never holds more
than the budget. Selection is per KV head (R-KV, H2O), except `rpc`, which shares one selection across the
layer's heads as its official code does; rows never share. A row that has finished (its eos or stop string)
stops taking slots, so a sequence decoded in a batch ends with the cache it would have had alone.

Scores need the attention weights, so under a policy the model attends through `evicting_attention`, an eager
implementation (transformers' SDPA returns no weights): a matmul, a softmax and a second matmul per layer.
`streaming` follows StreamingLLM's positions inside the cache: a query and the window's keys sit right after
the prompt, however much was evicted. Rotating both by the same amount leaves their scores unchanged, so the
prompt's keys are rotated forward instead, by the number of tokens evicted so far (RoPE models only).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers import AttentionInterface
from transformers.cache_utils import Cache, DynamicLayer
from transformers.generation.stopping_criteria import StoppingCriteria

from brevity.engines.kv_policy import KVPolicy
from brevity.errors import BrevityError

IMPL = "brevity_evicting"
POOL = 7  # R-KV and RPC smooth importance over neighbouring slots with a kernel of 7
REDUNDANT = 0.5  # R-KV: keys more similar than this are duplicates
_local = threading.local()


@dataclass
class RowState:
    """One row's entry for the prefix cache: its slots per layer and what the policy had accumulated."""

    keys: list[torch.Tensor]  # per layer [kv_heads, slots, dim]
    values: list[torch.Tensor]
    positions: list[torch.Tensor]  # per layer [kv_heads, slots]
    scores: list[torch.Tensor]  # per layer [kv_heads, slots] (h2o's accumulated attention)
    last: list[torch.Tensor]  # per layer [kv_heads, slots]: what the newest token's attention added to `scores`
    queries: list[torch.Tensor]  # per layer [heads, observed, dim]: the newest queries (rkv, rpc)
    protected: torch.Tensor  # [slots] bool: prompt slots
    tokens: int  # tokens of the sequence this state covers
    trace_seen: int  # trace tokens appended so far
    peak_trace: int
    peak_slots: int
    evicted: int
    _streaming: bool = False  # its prompt keys were turned by the evicted count

    @property
    def protected_len(self) -> int:
        return int(self.protected.sum())

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for group in (self.keys, self.values, self.positions, self.scores,
                                                                 self.last, self.queries) for t in group)

    def upto(self, n: int) -> RowState | None:
        """The state for the sequence's first `n` tokens, n being all of them or all but the newest (the caller
        resumes a sequence by re-running its last token): that token's slot, its query and what its attention added
        to the scores go, so the re-run adds them back as the first run did."""
        if n >= self.tokens:
            return self
        if n != self.tokens - 1:
            return None
        keep = [p[0] < n for p in self.positions]  # the newest tokens are never evicted: every head has them
        if not all(bool(((p < n) == m[None]).all()) for p, m in zip(self.positions, keep)):
            return None
        return RowState([k[:, m] for k, m in zip(self.keys, keep)], [v[:, m] for v, m in zip(self.values, keep)],
                        [p[:, m] for p, m in zip(self.positions, keep)],
                        [(s - a)[:, m] for s, a, m in zip(self.scores, self.last, keep)],
                        [torch.zeros_like(a[:, m]) for a, m in zip(self.last, keep)],
                        [q[:, :-1] if q.dim() == 3 else q for q in self.queries], self.protected[keep[0]], n,
                        self.trace_seen - 1, self.peak_trace, self.peak_slots, self.evicted, self._streaming)


    def prompt_only(self, n: int, rope) -> RowState:
        """A new sequence's start: the first `n` prompt slots, with nothing of the trace (the prompt's keys turned
        back where `streaming` had moved them)."""
        keep = [p[0] < n for p in self.positions]
        keys = [k[:, m] for k, m in zip(self.keys, keep)]
        if self._streaming and self.evicted and rope is not None:
            shift = torch.tensor([-self.evicted])
            keys = [rotate(k[None], shift, rope[0].to(k.device))[0] for k in keys]
        return RowState(keys, [v[:, m] for v, m in zip(self.values, keep)],
                        [p[:, m] for p, m in zip(self.positions, keep)],
                        [torch.zeros_like(s[:, m]) for s, m in zip(self.scores, keep)],
                        [torch.zeros_like(s[:, m]) for s, m in zip(self.scores, keep)],
                        [q[:, :0] if q.dim() == 3 else q for q in self.queries], self.protected[keep[0]], n, 0, 0, 0, 0)


def policy_room(policy: KVPolicy, max_tokens: int) -> int:
    """Trace slots a decode of `max_tokens` can hold at once under the policy (the buffers' first size)."""
    bound = policy.cap(max_tokens) + policy.every
    return min(max(1, max_tokens), bound) + 1


class RowsDone(StoppingCriteria):
    """Wraps the engine's stopping criteria to tell the cache which rows have ended, as `generate` learns it:
    their next tokens are padding, which takes no slot."""

    def __init__(self, cache: EvictingCache, inner, eos_ids):
        self.cache, self.inner = cache, inner
        self.eos = torch.tensor(sorted(eos_ids) if eos_ids else [], dtype=torch.long)

    def __call__(self, input_ids, scores, **kwargs):
        done = self.inner(input_ids, scores, **kwargs) if len(self.inner) else \
            torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        ended = done.clone()
        if self.eos.numel():
            ended |= torch.isin(input_ids[:, -1], self.eos.to(input_ids.device))
        self.cache.finished(ended)
        return done


def evicting_attention(module, query, key, value, attention_mask, scaling, dropout=0.0, **kwargs):
    """Eager attention over the active evicting cache's slots (the mask comes from the slots, not from
    `generate`'s positions), which also feeds the policy the attention weights it scores by."""
    cache: EvictingCache = _local.cache
    return cache.layers[module.layer_idx].attend(module, query, key, value, scaling)


@contextmanager
def evicting(model, cache: EvictingCache):
    """Run `generate` with `cache` under the evicting attention; the model's own implementation after."""
    AttentionInterface.register(IMPL, evicting_attention)
    old = model.config._attn_implementation
    model.set_attn_implementation(IMPL)
    _local.cache = cache
    try:
        yield cache
    finally:
        _local.cache = None
        model.set_attn_implementation(old)


def rope_of(model) -> tuple[torch.Tensor, float] | None:
    """The model's rotary inverse frequencies (rotate-half layout), or None without plain RoPE."""
    rotary = getattr(getattr(model, "model", None), "rotary_emb", None)
    if rotary is None or getattr(rotary, "rope_type", "default") != "default":
        return None
    return rotary.inv_freq.detach().float(), float(getattr(rotary, "attention_scaling", 1.0))


def rotate(keys: torch.Tensor, shift: torch.Tensor, inv_freq: torch.Tensor) -> torch.Tensor:
    """Keys [B, H, S, D] rotated `shift` [B] positions further (RoPE, rotate-half layout): rotations compose."""
    angles = shift.float()[:, None] * inv_freq[None, :]  # [B, D/2]
    emb = torch.cat((angles, angles), dim=-1)[:, None, None, :]
    cos, sin = emb.cos().to(keys.dtype), emb.sin().to(keys.dtype)
    half = keys.shape[-1] // 2
    rotated_half = torch.cat((-keys[..., half:], keys[..., :half]), dim=-1)
    return keys * cos + rotated_half * sin


class EvictingLayer(DynamicLayer):
    """One layer's slots for a batch: keys and values [B, kv_heads, capacity, dim], and per slot its row's
    validity and protection [B, capacity], its token's position and its accumulated score [B, kv_heads, capacity]."""

    def __init__(self, cache: EvictingCache, index: int):
        super().__init__()
        self.cache, self.index = cache, index
        self.n = 0  # slots in use (the widest row's)
        self.seen = 0  # the logical width `generate` counts (cached tokens and padding)
        self.k = self.v = self.pos = self.score = self.last = self.valid = self.prot = None
        self.queries = None  # [B, heads, observe, dim], newest last
        self.observed = None  # [B]: how many of them are real

    # --- transformers' cache-layer interface -------------------------------------------------------------
    def get_seq_length(self) -> int:
        return self.seen

    def get_mask_sizes(self, query_length: int) -> tuple[int, int]:
        return self.seen + query_length, 0

    def crop(self, tokens_to_remove: int) -> None:
        raise BrevityError("an evicting KV cache cannot be cropped")

    def reorder_cache(self, beam_idx) -> None:
        raise BrevityError("an evicting KV cache does not support beam search")

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        q = key_states.shape[-2]
        valid, prot, pos, room = self.cache.incoming(self.index, q)
        if self.k is None:
            self._allocate(key_states, value_states, q)
        if room is not None:
            self.compact(room)
        need = self.n + q
        if need > self.k.shape[-2]:
            self._grow(need)
        self.k[:, :, self.n:need] = key_states
        self.v[:, :, self.n:need] = value_states
        self.valid[:, self.n:need] = valid
        self.prot[:, self.n:need] = prot
        self.pos[:, :, self.n:need] = pos[:, None, :]
        self.score[:, :, self.n:need] = 0
        self.last[:, :, self.n:need] = 0
        self.n, self.seen = need, self.seen + q
        self.keys, self.values = self.k[:, :, :need], self.v[:, :, :need]
        return self.keys, self.values

    # --- storage -----------------------------------------------------------------------------------------
    def _allocate(self, key_states, value_states, q: int) -> None:
        b, h, _, d = key_states.shape
        cap = self.cache.capacity + q
        self.k = key_states.new_zeros((b, h, cap, d))
        self.v = value_states.new_zeros((b, h, cap, value_states.shape[-1]))
        self.pos = torch.full((b, h, cap), -1, dtype=torch.long, device=key_states.device)
        self.score = torch.zeros((b, h, cap), dtype=torch.float32, device=key_states.device)
        self.last = torch.zeros_like(self.score)
        self.valid = torch.zeros((b, cap), dtype=torch.bool, device=key_states.device)
        self.prot = torch.zeros_like(self.valid)
        self.is_initialized, self.dtype, self.device = True, key_states.dtype, key_states.device

    def _grow(self, need: int) -> None:
        cap = max(need, 2 * self.k.shape[-2])
        for name in ("k", "v", "pos", "score", "last", "valid", "prot"):
            old = getattr(self, name)
            new = old.new_zeros((*old.shape[:-2], cap, old.shape[-1])) if old.dim() == 4 else \
                old.new_zeros((*old.shape[:-1], cap))
            if old.dim() == 4:
                new[:, :, :self.n] = old[:, :, :self.n]
            else:
                new[..., :self.n] = old[..., :self.n]
            setattr(self, name, new)

    def adopt(self, rows: list[RowState | None], batch: int, heads: int, q_heads: int, dim: int, seen: int,
              device, dtype) -> None:
        """Start from the prefix cache's row states (None: a row with nothing cached), each row's slots packed
        from slot 0."""
        width = max((r.positions[self.index].shape[1] for r in rows if r is not None), default=0)
        cap = width + self.cache.capacity
        self.k = torch.zeros((batch, heads, cap, dim), dtype=dtype, device=device)
        self.v = torch.zeros_like(self.k)
        self.pos = torch.full((batch, heads, cap), -1, dtype=torch.long, device=device)
        self.score = torch.zeros((batch, heads, cap), dtype=torch.float32, device=device)
        self.last = torch.zeros_like(self.score)
        self.valid = torch.zeros((batch, cap), dtype=torch.bool, device=device)
        self.prot = torch.zeros_like(self.valid)
        observe = self.cache.policy.observe
        self.observed = torch.zeros(batch, dtype=torch.long, device=device)
        if observe:
            self.queries = torch.zeros((batch, q_heads, observe, dim), dtype=dtype, device=device)
        for r, state in enumerate(rows):
            if state is None:
                continue
            s = state.positions[self.index].shape[1]
            self.k[r, :, :s] = state.keys[self.index]
            self.v[r, :, :s] = state.values[self.index]
            self.pos[r, :, :s] = state.positions[self.index]
            self.score[r, :, :s] = state.scores[self.index]
            self.last[r, :, :s] = state.last[self.index]
            self.valid[r, :s] = True
            self.prot[r, :s] = state.protected
            if observe and state.queries[self.index].dim() == 3 and state.queries[self.index].shape[1]:
                got = state.queries[self.index].shape[1]
                self.queries[r, :, observe - got:] = state.queries[self.index]
                self.observed[r] = got
        self.n, self.seen = width, seen
        self.is_initialized, self.dtype, self.device = True, dtype, device

    def row_state(self, r: int, upto: int) -> tuple | None:
        """Row r's valid slots for positions below `upto`, or None when its heads hold different numbers of them
        (a stop string cut more tokens than the never-evicted window holds)."""
        keep = self.valid[r, None, :self.n] & (self.pos[r, :, :self.n] < upto)  # [H, n]
        counts = keep.sum(-1)
        if bool((counts != counts[0]).any()):
            return None
        order = torch.argsort((~keep).to(torch.int8), dim=-1, stable=True)[:, :int(counts[0])]
        got = int(self.observed[r]) if self.observed is not None else 0
        q = self.queries[r, :, self.queries.shape[2] - got:].clone() if self.queries is not None else torch.empty(0)
        d = self.k.shape[-1]
        return (self.k[r, :, :self.n].gather(1, order[..., None].expand(-1, -1, d)),
                self.v[r, :, :self.n].gather(1, order[..., None].expand(-1, -1, self.v.shape[-1])),
                self.pos[r, :, :self.n].gather(1, order), self.score[r, :, :self.n].gather(1, order),
                self.last[r, :, :self.n].gather(1, order), q, self.prot[r, :self.n].gather(0, order[0]))

    # --- attention and scoring ---------------------------------------------------------------------------
    def attend(self, module, query, key, value, scaling):
        q = query.shape[2]
        groups = query.shape[1] // key.shape[1]
        keys = key.repeat_interleave(groups, dim=1) if groups > 1 else key
        values = value.repeat_interleave(groups, dim=1) if groups > 1 else value
        logits = torch.matmul(query, keys.transpose(2, 3)).float() * scaling  # [B, H, q, n]
        n = key.shape[2]
        allowed = self.valid[:, None, None, :n].expand(-1, 1, q, n)
        if q > 1:  # the new tokens are the last q slots: each sees the slots before it and itself
            causal = torch.arange(n, device=query.device)[None, :] <= torch.arange(n - q, n, device=query.device)[:, None]
            allowed = allowed & causal[None, None]
        weights = logits.masked_fill(~allowed, float("-inf")).softmax(-1).nan_to_num(0.0)
        out = torch.matmul(weights.to(values.dtype), values)
        self._observe(query, weights, groups)
        return out.transpose(1, 2).contiguous(), None

    def _observe(self, query, weights, groups: int) -> None:
        """Feed the policy this forward's attention: only rows whose newest token is real (a finished row's padding
        neither scores nor observes)."""
        policy = self.cache.policy
        b, h, q, n = weights.shape
        real = self.cache._step[0]  # [B, q]: which new tokens are real
        fresh = real[:, -1]  # rows whose newest token is real
        if policy.name == "h2o":  # every real query's attention adds up (summed over a KV head's query heads)
            per_query = weights * real[:, None, :, None]
            self.score[:, :, :n] += per_query.sum(2).view(b, h // groups, groups, n).sum(2)
            newest = per_query[:, :, -1].view(b, h // groups, groups, n).sum(2)
            self.last[:, :, :n] = torch.where(fresh[:, None, None], newest, self.last[:, :, :n])
        if policy.observe:
            if self.queries is None:
                self.queries = query.new_zeros((b, h, policy.observe, query.shape[-1]))
                self.observed = torch.zeros(b, dtype=torch.long, device=query.device)
            take = min(q, policy.observe)
            rolled = torch.cat([self.queries[:, :, take:], query[:, :, -take:]], dim=2)
            self.queries = torch.where(fresh[:, None, None, None], rolled, self.queries)
            got = (self.observed + real[:, -take:].sum(-1)).clamp(max=policy.observe)
            self.observed = torch.where(fresh, got, self.observed)

    def _importance(self, trace_window: torch.Tensor) -> torch.Tensor:
        """Attention of the newest observed queries to each slot [B, kv_heads, n]: softmax over the slots outside
        the never-evicted window, averaged over the queries (R-KV, RPC)."""
        policy, n = self.cache.policy, self.n
        qs = self.queries
        b, hq, obs, d = qs.shape
        real = torch.arange(obs, device=qs.device)[None, :] >= (obs - self.observed)[:, None]  # [B, observe]
        hk = self.k.shape[1]
        logits = torch.matmul(qs, self.k[:, :, :n].repeat_interleave(hq // hk, dim=1).transpose(2, 3)).float()
        logits = logits * d ** -0.5
        if policy.name == "rkv" and hq != hk:  # R-KV: the most attentive query head of each group, before softmax
            logits = logits.view(b, hk, hq // hk, *logits.shape[2:]).amax(2)
        allowed = self.valid[:, :n] & ~trace_window
        if policy.name == "rpc":  # RPC scores the trace alone: its softmax leaves the prompt out
            allowed &= ~self.prot[:, :n]
        attn = logits.masked_fill(~allowed[:, None, None, :], float("-inf")).softmax(-1).nan_to_num(0.0)
        attn = (attn * real[:, None, :, None]).sum(2) / real.sum(-1).clamp(min=1)[:, None, None]  # the real queries
        if attn.shape[1] != hk:
            attn = attn.view(b, hk, -1, n).mean(2)
        # Smoothed over each row's neighbouring tokens: slots in token order, the batch's gaps (slots another row
        # holds) left out, so a row pools as it would alone.
        order = torch.argsort((~self.valid[:, :n]).to(torch.int8), dim=-1, stable=True)[:, None, :].expand(b, hk, n)
        pool = F.max_pool1d if policy.name == "rkv" else F.avg_pool1d
        packed = pool(attn.gather(-1, order).reshape(b * hk, 1, n), POOL, stride=1, padding=POOL // 2)
        return torch.empty_like(attn).scatter_(-1, order, packed.view(b, hk, n))

    def _redundancy(self, trace: torch.Tensor) -> torch.Tensor:
        """R-KV's redundancy of each trace key [B, kv_heads, n]: the mean cosine similarity to the other trace keys,
        where each key's most recent duplicate (similarity above 0.5) does not count against it, softmaxed. Worked
        out on the trace slots alone, gathered in order."""
        b, h, n = self.pos.shape[0], self.pos.shape[1], self.n
        t = int(trace.sum(-1).max())
        order = torch.argsort((~trace).to(torch.int8), dim=-1, stable=True)[:, :t]  # [B, t]: trace slots first
        live = torch.arange(t, device=trace.device)[None, :] < trace.sum(-1, keepdim=True)  # [B, t]
        keys = self.k[:, :, :n].gather(2, order[:, None, :, None].expand(b, h, t, self.k.shape[-1]))
        keys = F.normalize(keys.float(), dim=-1)
        sim = torch.matmul(keys, keys.transpose(2, 3))  # [B, H, t, t]
        pair = live[:, None, :, None] & live[:, None, None, :]
        sim = sim.masked_fill(~pair | torch.eye(t, dtype=torch.bool, device=sim.device), 0.0)
        idx = torch.arange(t, device=sim.device)
        last = torch.where(sim > REDUNDANT, idx, -1).amax(-1, keepdim=True)  # each key's newest duplicate
        sim = sim.masked_fill((idx == last) & (last >= 0), 0.0)
        mean = sim.sum(2) / live.sum(-1).clamp(min=1).float()[:, None, None]  # how similar each key is to the others
        red = mean.masked_fill(~live[:, None, :], float("-inf")).softmax(-1).nan_to_num(0.0)
        return torch.zeros((b, h, n), dtype=red.dtype, device=red.device).scatter_(
            -1, order[:, None, :].expand(b, h, t), red.masked_fill(~live[:, None, :], 0.0))

    def _scores(self, trace: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
        """The policy's keep-score per trace slot [B, kv_heads, n] (higher is kept)."""
        policy = self.cache.policy
        if policy.name == "streaming":
            return self.pos[:, :, :self.n].float()
        if policy.name == "h2o":
            return self.score[:, :, :self.n].clone()
        importance = self._importance(trace & window)
        if policy.name == "rpc":
            return importance.mean(1, keepdim=True).expand_as(importance)  # one selection for the layer
        return policy.mix * importance - (1 - policy.mix) * self._redundancy(trace)

    def compact(self, target: torch.Tensor) -> None:
        """Keep, in each row with target >= 0, the prompt, the newest `window` trace tokens and the best-scored
        others up to `target` trace tokens; pack every row's slots from slot 0."""
        n, policy = self.n, self.cache.policy
        valid, prot = self.valid[:, :n], self.prot[:, :n]
        trace = valid & ~prot
        newest = trace.flip(-1).cumsum(-1).flip(-1)  # 1 for the newest trace slot, 2 for the one before...
        window = trace & (newest <= policy.window)
        evicting = target >= 0
        keep_n = (target - window.sum(-1)).clamp(min=0)  # the scored slots each row keeps
        cand = (trace & ~window & evicting[:, None])[:, None, :].expand_as(self.pos[:, :, :n])
        keep = (valid & ~(trace & ~window & evicting[:, None]))[:, None, :].expand_as(cand).clone()
        if cand.any():
            scores = self._scores(trace, window).masked_fill(~cand, float("-inf"))
            k = int(keep_n[evicting].max()) if evicting.any() else 0
            if k:
                top = scores.topk(min(k, n), dim=-1).indices  # [B, H, k]
                rank_ok = torch.arange(top.shape[-1], device=top.device)[None, None, :] < keep_n[:, None, None]
                chosen = torch.zeros_like(keep)
                chosen.scatter_(-1, top, (rank_ok & evicting[:, None, None]).expand_as(top))
                keep |= chosen & cand
        counts = keep[:, 0].sum(-1)
        width = int(counts.max()) if counts.numel() else 0
        order = torch.argsort((~keep).to(torch.int8), dim=-1, stable=True)[..., :width]  # kept slots, in order
        dropped = (trace & evicting[:, None]).sum(-1) - keep_n - window.sum(-1)
        for name in ("k", "v"):
            buf = getattr(self, name)
            gathered = buf[:, :, :n].gather(2, order[..., None].expand(-1, -1, -1, buf.shape[-1]))
            buf[:, :, :width] = gathered
        self.pos[:, :, :width] = self.pos[:, :, :n].gather(2, order)
        self.score[:, :, :width] = self.score[:, :, :n].gather(2, order)
        self.last[:, :, :width] = self.last[:, :, :n].gather(2, order)
        self.prot[:, :width] = prot.gather(1, order[:, 0])
        self.valid[:, :width] = torch.arange(width, device=counts.device)[None, :] < counts[:, None]
        self.prot[:, :width] &= self.valid[:, :width]
        self.valid[:, width:n] = False
        self.prot[:, width:n] = False
        if policy.name == "streaming" and bool((dropped > 0).any()):
            self._shift_prompt(dropped.clamp(min=0))
        self.n = width
        self.keys, self.values = self.k[:, :, :width], self.v[:, :, :width]

    def _shift_prompt(self, dropped: torch.Tensor) -> None:
        """StreamingLLM's in-cache positions: the prompt's keys move `dropped` positions closer to the trace."""
        inv_freq = self.cache.rope[0].to(self.k.device)
        n = self.n
        rotated = rotate(self.k[:, :, :n], dropped, inv_freq)
        mask = self.prot[:, None, :n, None]
        self.k[:, :, :n] = torch.where(mask, rotated, self.k[:, :, :n])


class EvictingCache(Cache):
    """The batch's cache under one policy: the layers' slots, and per row the counts every layer follows."""

    def __init__(self, policy: KVPolicy, num_layers: int, batch: int, capacity: int, rope=None):
        self.policy, self.rope = policy, rope
        if policy.name == "streaming" and rope is None:
            raise BrevityError("KV policy streaming re-rotates the prompt's keys and needs a model with plain "
                               "rotary position embeddings; use h2o, rkv or rpc")
        self.capacity = capacity
        super().__init__(layers=[EvictingLayer(self, i) for i in range(num_layers)])
        self.live = torch.ones(batch, dtype=torch.bool)
        self.tokens = torch.zeros(batch, dtype=torch.long)  # tokens of each row cached so far
        self.trace_seen = torch.zeros(batch, dtype=torch.long)
        self.trace = torch.zeros(batch, dtype=torch.long)  # trace slots held now
        self.prompt = torch.zeros(batch, dtype=torch.long)  # prompt slots held
        self.peak_trace = torch.zeros(batch, dtype=torch.long)
        self.peak_slots = torch.zeros(batch, dtype=torch.long)
        self.evicted = torch.zeros(batch, dtype=torch.long)
        self._first: tuple[torch.Tensor, torch.Tensor] | None = None
        self._step: tuple | None = None

    def start(self, rows: list[RowState | None], mask: torch.Tensor, cached_width: int, protect: list[bool],
              model) -> None:
        """Before `generate`: the rows' cached states and, for the first forward, which of its input positions
        are real tokens (`mask`, the engine's left-padded attention mask) and which rows' new tokens are prompt."""
        cfg = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
        heads = cfg.num_attention_heads
        kv_heads = getattr(cfg, "num_key_value_heads", None) or heads
        dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // heads
        if any(r is not None for r in rows):
            for layer in self.layers:
                layer.adopt(rows, len(rows), kv_heads, heads, dim, cached_width, model.device, model.dtype)
        for r, state in enumerate(rows):
            if state is not None:
                self.tokens[r], self.trace_seen[r] = state.tokens, state.trace_seen
                self.prompt[r] = state.protected_len
                self.trace[r] = state.positions[0].shape[1] - state.protected_len
                self.peak_trace[r], self.peak_slots[r], self.evicted[r] = state.peak_trace, state.peak_slots, \
                    state.evicted
        self._first = (mask[:, cached_width:].bool().cpu(), torch.tensor(protect, dtype=torch.bool))

    def incoming(self, layer_idx: int, q: int):
        """The q new tokens of this forward, per row: valid, protected, position, and the trace size to cut to
        before they are appended (None: no row needs room). Worked out once per forward, at the first layer."""
        if layer_idx == 0:
            self._step = self._plan(q)
        return self._step

    def _plan(self, q: int):
        b = self.live.shape[0]
        if self._first is not None:
            valid, protect = self._first
            self._first = None
            prot = valid & protect[:, None]
        else:
            valid = self.live[:, None].expand(b, q)
            prot = torch.zeros_like(valid)
        positions = self.tokens[:, None] + valid.long().cumsum(-1) - 1
        new_trace = (valid & ~prot).sum(-1)
        self.tokens += valid.sum(-1)
        self.prompt += prot.sum(-1)
        self.trace_seen += new_trace
        if self.policy.share:
            cap = torch.tensor([self.policy.cap(int(t)) for t in self.trace_seen])
        else:
            cap = torch.full_like(self.trace_seen, self.policy.budget)
        over = (self.trace + new_trace > cap) & (new_trace > 0)
        room = None
        if bool(over.any()):
            window = torch.minimum(self.trace, torch.full_like(self.trace, self.policy.window))
            target = torch.maximum(window, cap - new_trace - self.policy.every + 1)
            target = torch.minimum(target, self.trace)
            target = torch.where(over, target, torch.full_like(target, -1))
            self.evicted += torch.where(over, self.trace - target, 0)
            self.trace = torch.where(over, target, self.trace)
            room = target
        self.trace += new_trace
        self.peak_trace = torch.maximum(self.peak_trace, self.trace)
        self.peak_slots = torch.maximum(self.peak_slots, self.trace + self.prompt)
        device = self.layers[0].k.device if self.layers[0].k is not None else None
        to = (lambda t: t.to(device)) if device is not None else (lambda t: t)
        return to(valid), to(prot), to(positions.clamp(min=0)), (to(room) if room is not None else None)

    def finished(self, rows: torch.Tensor) -> None:
        """Rows whose sequence has ended take no more slots (their later tokens are padding)."""
        self.live &= ~rows.cpu()

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return self.layers[layer_idx].seen

    def state(self, r: int, upto: int) -> RowState | None:
        """Row r's state for its first `upto` tokens (the prefix cache's entry), None where it cannot be cut there."""
        upto = min(upto, int(self.tokens[r]))
        parts = [layer.row_state(r, upto) for layer in self.layers]
        if any(p is None for p in parts):
            return None
        return RowState([p[0] for p in parts], [p[1] for p in parts], [p[2] for p in parts], [p[3] for p in parts],
                        [p[4] for p in parts], [p[5] for p in parts], parts[0][6], upto,
                        int(self.trace_seen[r]) - (int(self.tokens[r]) - upto), int(self.peak_trace[r]),
                        int(self.peak_slots[r]), int(self.evicted[r]), self.policy.name == "streaming")

    def stats(self, r: int, bytes_per_slot: int) -> dict:
        return {"policy": self.policy.text(), "peak_trace_tokens": int(self.peak_trace[r]),
                "peak_cached_tokens": int(self.peak_slots[r]), "evicted_tokens": int(self.evicted[r]),
                "peak_cache_bytes": int(self.peak_slots[r]) * bytes_per_slot}
