"""`brevity explain --kv`: which trace tokens each KV-cache policy still holds when a sequence ends, so a user can
see what eviction kept (R-KV is meant to drop a trace's repeated re-check lines and keep its equations)."""

from __future__ import annotations

from dataclasses import dataclass

from brevity.engines.base import Request
from brevity.engines.kv_policy import KVPolicy
from brevity.errors import BrevityError


@dataclass
class KeptTrace:
    problem_id: str
    policy: str
    tokens: list[str]  # the trace (thinking and answer) token by token
    kept: list[float]  # per token: the share of (layer, KV head) pairs whose cache still holds it at the end

    def lines(self) -> list[tuple[str, float]]:
        """The trace line by line, each with the mean share of its tokens kept."""
        out, text, shares = [], "", []
        for tok, share in zip(self.tokens, self.kept):
            text += tok
            shares.append(share)
            if "\n" in tok:
                out.append((text.strip(), sum(shares) / len(shares)))
                text, shares = "", []
        if text.strip():
            out.append((text.strip(), sum(shares) / len(shares)))
        return out

    def to_dict(self) -> dict:
        return {"problem_id": self.problem_id, "policy": self.policy, "tokens": self.tokens, "kept": self.kept,
                "lines": [{"text": t, "kept": k} for t, k in self.lines()]}


def kept_traces(engine, problems, policy: KVPolicy, max_tokens: int = 1024) -> list[KeptTrace]:
    """Decode each problem's `cot` under `policy` and read back which of its trace tokens the cache held at the end."""
    from brevity.methods.control import prompts

    if not policy.evicts:
        raise BrevityError("--kv shows what a policy evicts: name one that does, e.g. rkv:budget=64")
    base = prompts(problems, engine, steer=False)
    comps = engine.complete([Request(tuple(b), max_tokens, kv=policy) for b in base])
    out = []
    for p, b, c in zip(problems, base, comps):
        ids = list(c.token_ids)
        state = engine.kept_positions(policy, tuple(b) + tuple(ids))
        if state is None:  # the last token was never run (a length finish): its state covers one token less
            ids = ids[:-1]
            state = engine.kept_positions(policy, tuple(b) + tuple(ids))
        if state is None:
            raise BrevityError(f"{p.id}: the policy's cache kept no state for this sequence")
        pairs = sum(s.shape[0] for s in state)
        counts = [0] * len(ids)
        for layer in state:
            for pos in layer.flatten().tolist():
                if len(b) <= pos < len(b) + len(ids):
                    counts[pos - len(b)] += 1
        out.append(KeptTrace(p.id, policy.text(), [engine.decode([t]) for t in ids], [k / pairs for k in counts]))
    return out
