"""Engines continue prefixes: `hf` (in-process transformers), `openai` (any compatible server), and `vllm` and
`llama-cpp` (the `openai` engine in front of a `vllm serve` or llama.cpp server it starts and stops)."""

from brevity.engines.base import Completion, Engine, EngineCapabilityError, Request

__all__ = ["Completion", "Engine", "EngineCapabilityError", "Request", "make_engine"]


def make_engine(kind: str, model: str, **kw) -> Engine:
    from brevity.errors import BrevityError

    if kind == "hf":
        from brevity.engines.hf import HFEngine

        return HFEngine(model, **kw)
    if kind == "openai":
        from brevity.engines.openai import OpenAIEngine

        return OpenAIEngine(model=model, **kw)
    if kind == "vllm":
        from brevity.engines.vllm import VLLMEngine

        return VLLMEngine(model, **kw)
    if kind == "llama-cpp":
        from brevity.engines.llama_cpp import LlamaCppEngine

        return LlamaCppEngine(model, **kw)
    raise BrevityError(f"unknown engine {kind!r}; choose hf, openai, vllm or llama-cpp")
