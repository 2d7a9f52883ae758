"""A transformers cache whose layers grow by doubling, so a decode step appends in place.

DynamicCache concatenates the whole cache at every step (quadratic copying in the sequence
length); on long reasoning traces that copying took half of generate's time on CPU. This keeps
DynamicCache's semantics and hands `generate` views of preallocated buffers instead.
"""

from __future__ import annotations

import torch
from transformers.cache_utils import Cache, DynamicLayer


class GrowableLayer(DynamicLayer):
    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        super().lazy_initialization(key_states, value_states)
        self._kbuf = self._vbuf = None
        self._len = 0

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        new = key_states.shape[-2]
        need = self._len + new
        if self._kbuf is None or need > self._kbuf.shape[-2]:
            cap = max(need, 2 * (self._kbuf.shape[-2] if self._kbuf is not None else 64))
            shape_k = (*key_states.shape[:-2], cap, key_states.shape[-1])
            shape_v = (*value_states.shape[:-2], cap, value_states.shape[-1])
            kbuf = key_states.new_empty(shape_k)
            vbuf = value_states.new_empty(shape_v)
            if self._len:
                kbuf[..., : self._len, :] = self._kbuf[..., : self._len, :]
                vbuf[..., : self._len, :] = self._vbuf[..., : self._len, :]
            self._kbuf, self._vbuf = kbuf, vbuf
        self._kbuf[..., self._len:need, :] = key_states
        self._vbuf[..., self._len:need, :] = value_states
        self._len = need
        self.keys = self._kbuf[..., :need, :]
        self.values = self._vbuf[..., :need, :]
        return self.keys, self.values

    def adopt(self, kbuf: torch.Tensor, vbuf: torch.Tensor, length: int) -> None:
        """Take over buffers whose first `length` positions are filled; the rest is room to grow."""
        self.lazy_initialization(kbuf[..., :0, :], vbuf[..., :0, :])
        self._kbuf, self._vbuf, self._len = kbuf, vbuf, length
        self.keys, self.values = kbuf[..., :length, :], vbuf[..., :length, :]

    def reset(self) -> None:
        super().reset()
        self._kbuf = self._vbuf = None
        self._len = 0

    def crop(self, tokens_to_remove: int) -> None:
        super().crop(tokens_to_remove)
        if self.is_initialized and self.keys is not None:
            self._len = self.keys.shape[-2]
            self._kbuf, self._vbuf = self.keys, self.values

    def reorder_cache(self, beam_idx: torch.LongTensor) -> None:
        super().reorder_cache(beam_idx)
        self._kbuf, self._vbuf, self._len = self.keys, self.values, self.keys.shape[-2]


class GrowableCache(Cache):
    """Drop-in for DynamicCache in `generate`; optionally prefilled with per-layer (keys, values)."""

    def __init__(self, prefill: list[tuple[torch.Tensor, torch.Tensor]] | None = None):
        super().__init__(layer_class_to_replicate=GrowableLayer)
        for layer_idx, (k, v) in enumerate(prefill or []):
            self.update(k, v, layer_idx)

    @classmethod
    def from_rows(cls, rows: list[list[tuple[torch.Tensor, torch.Tensor]] | None], width: int,
                  capacity: int) -> GrowableCache:
        """A batch cache from per-row cached KV ([heads, len, dim] per layer, None for an uncached row),
        left-padded to `width`, in buffers that already hold `capacity` positions: each row is copied
        once, and the first decode steps do not grow (copy) the buffers again."""
        ref = next(kv for kv in rows if kv is not None)
        cache = cls()
        for layer_idx, (k0, v0) in enumerate(ref):
            bufs = []
            for t in (k0, v0):
                buf = t.new_empty((len(rows), t.shape[0], max(capacity, width), t.shape[2]))
                buf[:, :, :width].zero_()  # padding positions are masked, but must not hold NaNs
                bufs.append(buf)
            for r, kv in enumerate(rows):
                if kv is not None:
                    n = kv[layer_idx][0].shape[1]
                    bufs[0][r, :, width - n:width] = kv[layer_idx][0]
                    bufs[1][r, :, width - n:width] = kv[layer_idx][1]
            layer = GrowableLayer()
            layer.adopt(bufs[0], bufs[1], width)
            cache.layers.append(layer)
        return cache
