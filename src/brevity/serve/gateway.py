"""The gateway's core, without HTTP: which engine serves a model, which registered method a request
runs (its budget, effort and early exit become a method spec; the gateway reimplements no method),
and the checks that turn a request that cannot be honoured into a clear error before any work."""

from __future__ import annotations

import json
import tempfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import brevity.route.method  # noqa: F401  (registers the route methods)
from brevity.engines.base import Engine
from brevity.errors import BrevityError
from brevity.formats import ModelFormat, resolve_format
from brevity.methods.base import Method, RunContext, build_method
from brevity.methods.control import Decoding, prompt_text
from brevity.methods.spec import parse_spec
from brevity.serve.config import ModelConfig, ServeConfig
from brevity.serve.metrics import Metrics
from brevity.serve.protocol import Extensions
from brevity.serve.scheduler import Scheduler

MAX_METHODS = 256


def _without_max_tokens(spec: str) -> str:
    parsed = parse_spec(spec)
    params = {k: v for k, v in _params(parsed).items() if k != "max_tokens"}
    return spec_text(parsed.name, params)


class NotFound(BrevityError):
    """An unknown model (HTTP 404)."""


@dataclass
class Plan:
    model: ModelConfig
    spec: str  # the method spec, without @model
    max_tokens: int


def spec_text(name: str, params: dict[str, object]) -> str:
    """A method spec in the shared grammar: `name` or `name:key=value;key=value`."""
    if not params:
        return name
    return f"{name}:" + ";".join(f"{k}={v}" for k, v in params.items())


class Gateway:
    def __init__(self, cfg: ServeConfig, ui=None):
        self.cfg, self.ui = cfg, ui
        self.metrics = Metrics()
        self.engines: dict[str, Engine] = {}
        self.schedulers: dict[str, Scheduler] = {}
        self.methods: OrderedDict[tuple[str, str], Method] = OrderedDict()
        self.prepared: dict[tuple[str, str], Method] = {}  # by spec without max_tokens (aliases, the config's)
        self.reference: dict[str, float] = {}
        self.procs: list = []
        self._side_engines: dict[str, Engine] = {}
        self.urls: dict[str, str] = {}  # the vllm backend's started servers, by model
        self.tokenizers: dict = {}
        self.formats: dict[str, ModelFormat] = {}  # over the HTTP side's tokenizers
        self.context: dict[str, int] = {}  # the models' context lengths (positions)

    # Start and stop ---------------------------------------------------------------------------
    def start(self) -> None:
        import torch
        from transformers import AutoConfig, AutoTokenizer

        torch.seed()  # requests without a seed draw theirs from torch's generator: fresh ones for each server run

        for name, m in self.cfg.models.items():
            self.engines[name] = engine = self._engine(m)
            # The HTTP side counts prompt tokens with its own tokenizer; the engine's belongs to its worker thread.
            self.tokenizers[name] = tok = AutoTokenizer.from_pretrained(engine.model_path)
            self.formats[name] = resolve_format(tok, engine.model_path, m.format or None, m.answer_tokens or None)
            self.context[name] = getattr(AutoConfig.from_pretrained(engine.model_path), "max_position_embeddings", 0)
            self.reference[name] = m.reference_thinking or _manifest_thinking(engine)
            self.schedulers[name] = Scheduler(engine, lambda spec, n=name: self.method_for(n, spec), m.batch_size,
                                              m.batch_wait_ms, on_batch=self.metrics.batch.labels(name).observe)
        for alias, target in self.cfg.aliases.items():  # a route calibrates once, before the first request
            spec = parse_spec(target)
            model = spec.model or self.cfg.default_model
            if model not in self.cfg.models:
                raise BrevityError(f"alias {alias!r} names model {model!r}, which is not served")
            self.method_for(model, spec_text(spec.name, _params(spec)))

    def close(self) -> None:
        from brevity.serve.upstream import stop

        for s in self.schedulers.values():
            s.close()
        for p in self.procs:
            stop(p)

    def _engine(self, m: ModelConfig) -> Engine:
        from brevity.zoo import resolve_model

        path = str(resolve_model(m.path))
        fmt = dict(reasoning_format=m.format or None, answer_tokens=m.answer_tokens or None)
        if m.backend == "hf":
            from brevity.engines.hf import HFEngine

            return HFEngine(path, batch_size=m.batch_size, **fmt)
        if m.backend == "vllm" and m.name not in self.urls:
            from brevity.formats import load_format
            from brevity.serve.upstream import native_budget_args, start_vllm

            log = Path(tempfile.gettempdir()) / f"brevity-vllm-{m.name}.log"
            native = native_budget_args(load_format(path, **fmt)) if m.native_budget else {}
            proc, self.urls[m.name] = start_vllm(path, m.upstream_model or m.name, m.vllm_venv, log, **native)
            self.procs.append(proc)
        return self._upstream(m, path)

    def _upstream(self, m: ModelConfig, path: str) -> Engine:
        """An openai engine on the model's upstream (its own vLLM for the vllm backend): one per caller thread,
        since the scheduler's worker and a route's side each use their own tokenizer."""
        from brevity.engines.openai import OpenAIEngine

        return OpenAIEngine(m.upstream_model or m.name, base_url=self.urls.get(m.name, m.url), tokenizer=path,
                            api_key=m.upstream_api_key or None, reasoning_format=m.format or None,
                            answer_tokens=m.answer_tokens or None)

    # Methods --------------------------------------------------------------------------------
    def method_for(self, model: str, spec: str) -> Method:
        """One prepared method instance per (model, spec), reused by every batch (the most recent
        MAX_METHODS of them). Specs that differ only in max_tokens share one preparation."""
        key = (model, spec)
        if key in self.methods:
            self.methods.move_to_end(key)
            return self.methods[key]
        from brevity.methods.spec import parse_task

        method = build_method(spec)
        method.context = RunContext(self._side_engine, parse_task(self.cfg.calibration_task))
        base = (model, _without_max_tokens(spec))
        if base in self.prepared:
            method.adopt(self.prepared[base])
        else:
            method.prepare(self.engines[model], self.ui)
            self.prepared[base] = method
        self.methods[key] = method
        while len(self.methods) > MAX_METHODS:
            self.methods.popitem(last=False)
        return method

    def _side_engine(self, name: str) -> Engine:
        """Engines a method asks for besides its own (a route's fast model), on that model's backend in the
        config (matched by its name or its folder's name): the upstream it is served on, or in-process hf
        for hf models and models the config does not serve."""
        from brevity.engines.hf import HFEngine
        from brevity.zoo import resolve_model

        if name not in self._side_engines:
            m = self._config_for(name)
            if m is not None and m.backend != "hf":
                self._side_engines[name] = self._upstream(m, str(resolve_model(m.path)))
            else:
                path = resolve_model(m.path if m else name)
                self._side_engines[name] = HFEngine(path, batch_size=m.batch_size if m else 32)
        return self._side_engines[name]

    def _config_for(self, name: str) -> ModelConfig | None:
        """The served model a method names: by its served name, its path, or its folder's name."""
        from brevity.zoo import resolve_model

        if name in self.cfg.models:
            return self.cfg.models[name]
        folder = resolve_model(name).name
        return next((m for m in self.cfg.models.values() if m.path == name or resolve_model(m.path).name == folder),
                    None)

    # Planning --------------------------------------------------------------------------------
    def plan(self, req: Extensions) -> Plan:
        limits = self.cfg.limits
        limit = req.limit() or limits.max_tokens
        if limit > limits.max_tokens:
            raise BrevityError(f"max_tokens {limit} is above this server's limit of {limits.max_tokens}")
        early = req.early_exit if not isinstance(req.early_exit, str) else None
        exit_name = req.early_exit if isinstance(req.early_exit, str) else (early.method if early else None)
        exit_params = _exit_params(early.model_extra or {}) if early else {}
        if exit_name == "none":
            exit_name = None
        if req.model in self.cfg.aliases:
            if req.thinking_budget is not None or req.reasoning_effort or exit_name or req.thinking_off():
                raise BrevityError(f"{req.model} is a route: it decides how much to think itself; drop "
                                   "thinking_budget, reasoning_effort and early_exit, or name a model")
            target = parse_spec(self.cfg.aliases[req.model])
            model = self.cfg.models[target.model or self.cfg.default_model]
            return Plan(model, spec_text(target.name, {**_params(target), "max_tokens": limit}), limit)
        if req.model not in self.cfg.models:
            names = ", ".join([*self.cfg.models, *self.cfg.aliases])
            raise NotFound(f"model {req.model!r} is not served here; choose one of {names}")
        model = self.cfg.models[req.model]
        budget = req.thinking_budget
        if req.thinking_off():
            if budget:
                raise BrevityError("chat_template_kwargs.enable_thinking=false turns thinking off; drop "
                                   "thinking_budget or enable thinking")
            budget = 0
        if budget is None and req.reasoning_effort:
            budget = model.efforts[req.reasoning_effort]
        room = self.formats[model.name].answer_tokens if model.name in self.formats else 0
        if budget is not None and budget > 0 and budget + room > limit:
            raise BrevityError(f"thinking_budget {budget} leaves no room for the answer: max_tokens must be at least "
                               f"{budget + room} (the budget plus {room} answer tokens)")
        if budget == 0:
            if exit_name:
                raise BrevityError("a thinking budget of 0 (or reasoning_effort none) skips thinking; early_exit "
                                   "cannot apply")
            spec = spec_text("nothink", {"max_tokens": limit})
        elif exit_name:
            params = {**exit_params, **({"budget": budget} if budget else {}), "max_tokens": limit}
            spec = spec_text(exit_name, params)
        elif budget is not None:
            native = {"native": "true"} if model.native_budget and model.backend != "hf" else {}
            spec = spec_text("budget", {"max": budget, **native, "max_tokens": limit})
        else:
            base = parse_spec(model.method)
            spec = spec_text(base.name, {**_params(base), "max_tokens": limit})
        return Plan(model, spec, limit)

    def decoding(self, model: str, sampling) -> Decoding:
        """A request's decoding settings (`sampling`: temperature, top_p, seed, stop, logprobs, top_logprobs;
        temperature None means unset). Without a temperature the model's generation_config.json decides, as in
        vLLM (greedy when it sets no sampling: the zoo's models), so served answers equal the bench's."""
        from brevity.engines.sampling import SamplingDefaults

        defaults = getattr(self.engines.get(model), "sampling_defaults", None) or SamplingDefaults()
        temperature, top_p = sampling.temperature, sampling.top_p
        top_k = 0
        if temperature is None:
            temperature, top_k = defaults.temperature, defaults.top_k
            top_p = defaults.top_p if top_p is None else top_p
        stop = sampling.stop or ()
        return Decoding(temperature=float(temperature), top_p=1.0 if top_p is None else float(top_p), top_k=top_k,
                        seed=sampling.seed, logprobs=bool(sampling.logprobs), top_logprobs=sampling.top_logprobs or 0,
                        stop=(stop,) if isinstance(stop, str) else tuple(stop))

    def check(self, plan: Plan) -> None:
        """Build the method (bad parameters fail here) and let it check itself against the engine."""
        method = build_method(plan.spec)
        # The HTTP side's own tokenizer: the engine's belongs to its worker thread.
        name = plan.model.name
        method.check(SimpleNamespace(tokenizer=self.tokenizers[name], format=self.formats[name]))

    def render(self, model: str, prompt, template_kwargs: dict | None = None, thinking: bool = True) -> str:
        """A request's prompt as the model's format renders it (thinking off the model's way when the plan
        skips thinking), for counting and logging."""
        from brevity.tasks import Problem

        problem = Problem(id="", question="", answer="", prompt=prompt, template_kwargs=template_kwargs or {})
        return prompt_text(problem, SimpleNamespace(format=self.formats[model]), thinking=thinking)

    def log_prompt(self, rid: str, model: str, spec: str, text: str) -> None:
        """`brevity serve --log-prompts FILE`: one JSON line per request."""
        if self.cfg.log_prompts:
            with open(self.cfg.log_prompts, "a") as f:
                f.write(json.dumps({"id": rid, "model": model, "method": spec, "format": self.formats[model].name,
                                    "prompt": text}) + "\n")


def _exit_params(extra: dict) -> dict[str, object]:
    """An early_exit object's parameters, as plain values the spec grammar can carry."""
    out = {}
    for k, v in extra.items():
        if not isinstance(v, (int, float, str)):
            raise BrevityError(f"early_exit.{k} must be a number or a string")
        if not k.isidentifier() or any(c in str(v) for c in ";=@,") or k in ("max_tokens", "budget"):
            raise BrevityError(f"early_exit.{k}={v!r} is not allowed (budgets come from thinking_budget and "
                               "max_tokens; values may not contain ; = @ or ,)")
        out[k] = v
    return out


def _params(spec) -> dict[str, object]:
    """A parsed spec's parameters, the positional one by its field name."""
    params = dict(spec.params)
    if spec.positional is not None:
        cls_field = type(build_method(spec.name)).positional
        params[cls_field] = spec.positional
    return params


def _manifest_thinking(engine: Engine) -> float:
    """The model's mean `cot` thinking tokens on validation, from its manifest (zoo models have it)."""
    path = Path(getattr(engine, "model_path", "")) / "manifest.json"
    try:
        return float(json.loads(path.read_text())["validation"]["cot_thinking_tokens"])
    except (OSError, KeyError, ValueError, TypeError):
        return 0.0
