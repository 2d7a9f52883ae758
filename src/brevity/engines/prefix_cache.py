"""Automatic prefix caching on token ids, as vLLM does it: KV of finished sequences is kept per
block-aligned prefix hash, so continuing or forking a prefix pays only for the new tokens."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import torch

BLOCK = 16


@dataclass
class Entry:
    tokens: tuple[int, ...]
    kv: list[tuple[torch.Tensor, torch.Tensor]]  # per layer, [heads, len, dim]; empty with a `state`
    state: Any = None  # an evicting cache's row state (brevity.engines.evicting_cache.RowState)

    @property
    def nbytes(self) -> int:
        if self.state is not None:
            return self.state.nbytes()
        return sum(k.numel() * k.element_size() * 2 for k, _ in self.kv)


class PrefixCache:
    """An LRU of KV entries with a block-hash index for longest-prefix lookup, bounded by `max_bytes` of KV
    (the index by the live entries' blocks)."""

    def __init__(self, max_bytes: int = 512 * 2**20):
        self.max_bytes = max_bytes
        self.entries: OrderedDict[int, Entry] = OrderedDict()
        self.index: dict[int, int] = {}  # hash of tokens[:k*BLOCK] -> entry key
        self.bytes = 0
        self._next = 0
        self.hits = self.queries = self.hit_tokens = 0

    @staticmethod
    def _block_hashes(tokens: tuple[int, ...]) -> list[int]:
        return [hash(tokens[: (b + 1) * BLOCK]) for b in range(len(tokens) // BLOCK)]

    def put(self, tokens: tuple[int, ...], kv: list[tuple[torch.Tensor, torch.Tensor]], state: Any = None) -> None:
        if len(tokens) < BLOCK:
            return
        entry = Entry(tokens, kv, state)
        if entry.nbytes > self.max_bytes:
            return
        key, self._next = self._next, self._next + 1
        self.entries[key] = entry
        self.bytes += entry.nbytes
        for h in self._block_hashes(tokens):
            self.index[h] = key
        while self.bytes > self.max_bytes:
            old_key, old = self.entries.popitem(last=False)
            self.bytes -= old.nbytes
            self._unindex(old_key, old)

    def _unindex(self, key: int, entry: Entry) -> None:
        """Drop an evicted entry's block hashes (those a newer entry took over stay): the index never holds
        more hashes than the live entries have blocks."""
        for h in self._block_hashes(entry.tokens):
            if self.index.get(h) == key:
                del self.index[h]

    def lookup(self, tokens: tuple[int, ...]) -> tuple[int, list[tuple[torch.Tensor, torch.Tensor]] | None]:
        """Longest cached prefix of `tokens`, leaving at least one token to run (it yields the logits)."""
        n, entry = self.find(tokens)
        if entry is None:
            return 0, None
        return n, [(k[:, :n], v[:, :n]) for k, v in entry.kv]

    def find(self, tokens: tuple[int, ...]) -> tuple[int, Entry | None]:
        """The entry sharing the longest prefix with `tokens` and that prefix's length, leaving at least one
        token to run; counted as a hit."""
        self.queries += 1
        limit = len(tokens) - 1
        best_key, blocks = None, 0
        for b, h in enumerate(self._block_hashes(tokens[:limit])):
            key = self.index.get(h)
            if key is None:
                break
            best_key, blocks = key, b + 1
        if best_key is None:
            return 0, None
        entry = self.entries[best_key]
        n = blocks * BLOCK
        if entry.tokens[:n] != tokens[:n]:  # hash collision
            return 0, None
        while n < min(limit, len(entry.tokens)) and entry.tokens[n] == tokens[n]:
            n += 1
        self.entries.move_to_end(best_key)
        self.hits += 1
        self.hit_tokens += n
        return n, entry

    def clear(self) -> None:
        self.entries.clear()
        self.index.clear()
        self.bytes = 0
