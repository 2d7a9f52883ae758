"""A served answer's token log-probabilities in OpenAI's two shapes.

Chat (`choices[].logprobs`): `content` lists the answer's tokens (`message.content`), each
`{token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]}`; the reasoning's tokens go, in the same
shape, under `reasoning_content` (an extension: OpenAI's reasoning models return none). Completions
(`choices[].logprobs`, the legacy shape): `tokens`, `token_logprobs`, `top_logprobs` (token -> logprob) and
`text_offset` over thinking, closing marker and answer in order, as the raw text has them.

Log-probabilities are the model's own (before temperature and any bias). Methods solve in several engine
calls and write text of their own between them (a closing phrase, "Wait", a forced closing marker): those
tokens were not generated, so their logprob is null, with no alternatives, and in chat they are left out
(chat's schema has no null logprob); the answer's tokens are all generated.
"""

from __future__ import annotations

from brevity.methods.control import Entry, TokenLogprobs


def _token(tok, tid: int) -> str:
    return tok.decode([tid], skip_special_tokens=False)


def _chat_entries(tok, entries: list[Entry]) -> list[dict]:
    out = []
    for tid, lp, top in entries:
        if lp is None:  # injected by the method, not generated
            continue
        text = _token(tok, tid)
        alts = [{"token": (t := _token(tok, i)), "logprob": v, "bytes": list(t.encode())} for i, v in top or []]
        out.append({"token": text, "logprob": lp, "bytes": list(text.encode()), "top_logprobs": alts})
    return out


def chat_logprobs(tok, lp: TokenLogprobs | None) -> dict | None:
    if lp is None:
        return None
    return {"content": _chat_entries(tok, lp.answer), "refusal": None,
            "reasoning_content": _chat_entries(tok, lp.thinking + lp.between)}


def completion_logprobs(tok, lp: TokenLogprobs | None, text: str) -> dict | None:
    """The legacy shape over `text` (the response's raw text): offsets follow the tokens' own text, each part
    anchored where it lies in `text` (the answer at its end)."""
    if lp is None:
        return None
    tokens, lps, tops, offsets = [], [], [], []
    head = lp.thinking + lp.between
    head_text = "".join(_token(tok, t) for t, _, _ in head)
    answer_text = "".join(_token(tok, t) for t, _, _ in lp.answer)
    pos = max(0, text.find(head_text[:32])) if head_text else 0
    for part, anchor in ((head, pos), (lp.answer, max(0, len(text) - len(answer_text)))):
        at = anchor
        for tid, v, top in part:
            s = _token(tok, tid)
            tokens.append(s)
            lps.append(v)
            tops.append({_token(tok, i): x for i, x in top} if top else None)
            offsets.append(at)
            at += len(s)
    return {"tokens": tokens, "token_logprobs": lps, "top_logprobs": tops, "text_offset": offsets}
