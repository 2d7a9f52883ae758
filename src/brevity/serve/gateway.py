"""The gateway's core, without HTTP: which engine serves a model, which registered method a request
runs (its budget, effort and early exit become a typed Method, built from the request's fields as vLLM builds
sampling parameters; the gateway reimplements no method), the methods' prepared state, and the checks that turn a
request that cannot be honoured into a clear error before any work."""

from __future__ import annotations

import functools
import json
import logging
import re
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from brevity.engines.base import Engine
from brevity.errors import BrevityError
from brevity.formats import ModelFormat, resolve_format
from brevity.manifest import read_manifest
from brevity.methods.base import Method, RunContext, method_class, method_from
from brevity.methods.control import Decoding, prompt_text
from brevity.spec import parse_spec, parse_task
from brevity.serve.config import DEFAULT_PREFIX_CACHE_MB, ModelConfig, ServeConfig
from brevity.serve.memory import MallocTrimmer
from brevity.serve.metrics import Metrics
from brevity.serve.protocol import Extensions
from brevity.serve.scheduler import Scheduler

log = logging.getLogger("brevity.serve")


class NotFound(BrevityError):
    """An unknown model (HTTP 404)."""


class ParamError(BrevityError):
    """A request the server cannot honour, by the field at fault (HTTP 400 with `param` and `code`)."""

    def __init__(self, message: str, param: str | None, code: str = "invalid_value"):
        super().__init__(message)
        self.param, self.code = param, code


@dataclass(frozen=True)
class Plan:
    model: ModelConfig
    method: Method  # what the request runs (frozen: requests with equal methods batch together)
    max_tokens: int
    param: str | None = None  # the request field that chose the method's budget or early exit (for errors)

    @property
    def spec(self) -> str:
        """The method's canonical spec, as responses, logs and records name it."""
        return self.method.spec()


class Gateway:
    def __init__(self, cfg: ServeConfig, ui=None):
        self.cfg, self.ui = cfg, ui
        self.metrics = Metrics()
        self.engines: dict[str, Engine] = {}
        self.schedulers: dict[str, Scheduler] = {}
        # The methods' prepared states, by (model, method without its lengths): the most recent `limits.max_methods`
        # and the aliases' calibrated routes (pinned, never dropped).
        self.prepared: OrderedDict[tuple[str, Method], object] = OrderedDict()
        self.pinned: set[tuple[str, Method]] = set()
        self.alias_state: dict[str, str] = {}  # alias -> "calibrating", "ready" or "failed: why"
        self._todo: list[tuple[str, str, Method]] = []  # (alias, model, method) of the routes to calibrate
        self._calibrator: threading.Thread | None = None
        self._closing = False
        self._lock = threading.Lock()  # methods and prepared: the schedulers' threads and the calibration's
        self.reference: dict[str, float] = {}
        self.procs: list = []
        self._side_engines: dict[str, Engine] = {}
        self.trimmer: MallocTrimmer | None = None
        self.urls: dict[str, str] = {}  # the vllm backend's started servers, by model
        self.tokenizers: dict = {}
        self.formats: dict[str, ModelFormat] = {}  # over the HTTP side's tokenizers
        self.context: dict[str, int] = {}  # the models' context lengths (positions)

    @functools.cached_property
    def calibration_task(self):
        """The task routes calibrate on (the config's), parsed once rather than for every batch."""
        return parse_task(self.cfg.calibration_task)

    # Start and stop ---------------------------------------------------------------------------
    def start(self, calibrate: bool = True) -> None:
        """Load the models and check the aliases; routes then calibrate in a background thread, now or, with
        `calibrate=False`, when the caller calls `calibrate()` (`brevity serve`: once its port is open)."""
        import torch
        from transformers import AutoConfig, AutoTokenizer

        torch.seed()  # requests without a seed draw theirs from torch's generator: fresh ones for each server run
        self.trimmer = MallocTrimmer(self.cfg.limits.malloc_trim_s).start()  # before the engines' threads exist

        for name, m in self.cfg.models.items():
            self.engines[name] = engine = self._engine(m)
            self._watch(name, engine)
            # The HTTP side counts prompt tokens with its own tokenizer; the engine's belongs to its worker thread.
            self.tokenizers[name] = tok = AutoTokenizer.from_pretrained(engine.model_path)
            self.formats[name] = resolve_format(tok, engine.model_path, m.format or None, m.answer_tokens or None)
            self.context[name] = getattr(AutoConfig.from_pretrained(engine.model_path), "max_position_embeddings", 0)
            self.reference[name] = m.reference_thinking or _manifest_thinking(engine)
            wait_ms = m.batch_wait_ms if m.batch_wait_ms is not None else 5.0 if m.backend == "hf" else 0.0
            self.schedulers[name] = Scheduler(engine, lambda method, n=name: self.context_for(n, method),
                                              m.batch_size, wait_ms, on_batch=self.metrics.batch.labels(name).observe)
        self._check_aliases()
        if calibrate:
            self.calibrate()

    def _check_aliases(self) -> None:
        """Check every alias now (a bad one fails the start); routes are left to `calibrate`, the rest are
        ready at once."""
        for alias, target in self.cfg.aliases.items():
            spec = parse_spec(target)
            model = spec.model or self.cfg.default_model
            if model not in self.cfg.models:
                raise BrevityError(f"alias {alias!r} names model {model!r}, which is not served")
            method = method_from(spec.name, _params(spec)).without_lengths()
            if hasattr(method, "calibration"):
                self.alias_state[alias] = "calibrating"
                self._todo.append((alias, model, method))
            else:  # nothing to calibrate
                self.context_for(model, method)
                self.alias_state[alias] = "ready"

    def calibrate(self) -> None:
        """Calibrate the routes in a background thread, one alias after another (once)."""
        if self._todo and self._calibrator is None:
            self._calibrator = threading.Thread(target=self._calibrate, args=(self._todo,), name="brevity-calibrate",
                                                daemon=True)
            self._calibrator.start()

    def _calibrate(self, todo: list[tuple[str, str, Method]]) -> None:
        for alias, model, method in todo:
            if self._closing:
                return
            try:
                if (model, method) not in self.prepared:
                    self._prepare_route(model, method)
                self.alias_state[alias] = "ready"
            except Exception as e:  # noqa: BLE001  (reported by /health and to the alias's requests)
                log.exception("alias %s failed to calibrate", alias)
                self.alias_state[alias] = f"failed: {type(e).__name__}: {e}".splitlines()[0][:300]

    def _prepare_route(self, model: str, method: Method) -> None:
        """Calibrate (or load a saved calibration) on engines of its own, since the served ones belong to their
        schedulers' threads: a twin of the served model sharing its weights, and fresh side engines (handed to
        the gateway afterwards). The served state then keeps only what calibration decided."""
        task = self.calibration_task
        sides: dict[str, Engine] = {}

        def side(name: str) -> Engine:
            if name not in sides:
                sides[name] = self._make_side_engine(name)
            return sides[name]

        calibrated = method.prepare(RunContext(self._twin(model), make_engine=side, task=task, ui=self.ui))
        served = method.restore(method.calibration(calibrated))
        for name, engine in sides.items():
            if self._side_engines.setdefault(name, engine) is engine:
                self._watch(f"side:{name}", engine)
        with self._lock:
            self.prepared[(model, method)] = served
            self.pinned.add((model, method))

    def _watch(self, label: str, engine: Engine) -> None:
        if getattr(engine, "cache", None) is not None:
            self.metrics.watch_cache(label, engine.cache)

    def _twin(self, model: str) -> Engine:
        """An engine for another thread over the served model: its weights (not a copy), its own tokenizer and
        caches; a new client for an upstream."""
        engine, m = self.engines[model], self.cfg.models[model]
        if m.backend != "hf":
            return self._upstream(m, str(engine.model_path))
        from transformers import AutoTokenizer

        from brevity.engines.hf import HFEngine

        tok = AutoTokenizer.from_pretrained(engine.model_path)
        tok.padding_side = "left"
        twin = HFEngine.from_model(engine.model(), tok, batch_size=engine.batch_size, prefix_cache=True,
                                   cache_bytes=m.prefix_cache_mb << 20)
        twin.model_path, twin.model_name = engine.model_path, engine.model_name
        twin.format = resolve_format(tok, engine.model_path, m.format or None, m.answer_tokens or None)
        twin.eos_ids = set(twin.format.stop_ids)
        return twin

    def alias_ready(self, alias: str) -> str:
        """"ready", "calibrating" or "failed: why" (an alias of another gateway's config: "ready")."""
        return self.alias_state.get(alias, "ready")

    def wait_ready(self, timeout_s: float | None = None) -> None:
        """Block until every alias is calibrated; a BrevityError naming any that failed."""
        self.calibrate()
        if self._calibrator is not None:
            self._calibrator.join(timeout_s)
            if self._calibrator.is_alive():
                raise BrevityError(f"aliases still calibrating after {timeout_s:g} s")
        failed = {a: s for a, s in self.alias_state.items() if s != "ready"}
        if failed:
            raise BrevityError("; ".join(f"alias {a} {s}" for a, s in failed.items()))

    def close(self) -> None:
        from brevity.serve.upstream import stop

        self._closing = True  # a calibration under way stops before its next alias
        if self.trimmer is not None:
            self.trimmer.close()
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

            return HFEngine(path, batch_size=m.batch_size, cache_bytes=m.prefix_cache_mb << 20, **fmt)
        if m.backend == "vllm" and m.name not in self.urls:
            from brevity.formats import load_format
            from brevity.serve.upstream import native_budget_args, start_vllm

            log = Path(tempfile.gettempdir()) / f"brevity-vllm-{m.name}.log"
            native = native_budget_args(load_format(path, fmt["reasoning_format"], fmt["answer_tokens"])) \
                if m.native_budget else {}
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
    def context_for(self, model: str, method: Method) -> RunContext:
        """The context a batch of `method` runs with on `model`'s served engine (in its scheduler's thread), with
        the method's prepared state: prepared once for the method without its lengths (requests that differ only
        in max_tokens share one preparation, as they share a route's calibration) and reused by every batch."""
        ctx = RunContext(self.engines[model], make_engine=self._side_engine, task=self.calibration_task, ui=self.ui)
        key = (model, method.without_lengths())
        with self._lock:
            if key in self.prepared:
                self.prepared.move_to_end(key)
                return ctx.but(state=self.prepared[key])
        state = key[1].prepare(ctx)
        with self._lock:
            state = self.prepared.setdefault(key, state)
            _trim(self.prepared, self.cfg.limits.max_methods + len(self.pinned), self.pinned)
        return ctx.but(state=state)

    def _side_engine(self, name: str) -> Engine:
        """Engines a method asks for besides its own (a route's fast model), one per name, shared by the
        requests that use it."""
        if name not in self._side_engines:
            self._side_engines[name] = self._make_side_engine(name)
            self._watch(f"side:{name}", self._side_engines[name])
        return self._side_engines[name]

    def _make_side_engine(self, name: str) -> Engine:
        """A new engine for a model a method names, on that model's backend in the config (matched by its
        name or its folder's name): the upstream it is served on, or in-process hf for hf models and models
        the config does not serve."""
        from brevity.engines.hf import HFEngine
        from brevity.zoo import resolve_model

        m = self._config_for(name)
        if m is not None and m.backend != "hf":
            return self._upstream(m, str(resolve_model(m.path)))
        path = resolve_model(m.path if m else name)
        return HFEngine(path, batch_size=m.batch_size if m else 32,
                        cache_bytes=(m.prefix_cache_mb if m else DEFAULT_PREFIX_CACHE_MB) << 20)

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
        """The method a request runs, from its canonical reasoning control (protocol.Control)."""
        limits = self.cfg.limits
        c = req.control
        limit = c.max_tokens or limits.max_tokens
        limit_field = c.fields.get("max_tokens", "max_tokens")
        if limit > limits.max_tokens:
            raise ParamError(f"{limit_field} {limit} is above this server's limit of {limits.max_tokens}",
                             limit_field)
        exit_params = _exit_params(c.early_exit_params)
        if c.sampling.shaping.ignore_eos and c.early_exit:
            raise ParamError("ignore_eos writes to max_tokens and early_exit stops thinking early; send one of them",
                             "ignore_eos", "conflicting_parameters")
        if req.model in self.cfg.aliases:
            if c.asks():
                raise ParamError(f"{req.model} is a route: it decides how much to think itself; drop "
                                 f"{', '.join(c.asks())}, or name a model", c.asks()[0])
            target = parse_spec(self.cfg.aliases[req.model])
            model = self.cfg.models[target.model or self.cfg.default_model]
            return Plan(model, _method(target.name, {**_params(target), "max_tokens": limit}, "model"), limit)
        if req.model not in self.cfg.models:
            names = ", ".join([*self.cfg.models, *self.cfg.aliases])
            raise NotFound(f"model {req.model!r} is not served here; choose one of {names}")
        model = self.cfg.models[req.model]
        if c.sampling.kv is not None and c.sampling.kv.evicts and model.backend != "hf":
            raise ParamError(f"kv_cache {c.sampling.kv.text()!r}: KV-cache policies evict inside the hf engine, and "
                             f"{model.name} is served by {model.backend}'s own cache; leave kv_cache out", "kv_cache")
        fmt = self.formats.get(model.name)
        if fmt is not None and fmt.spec.thinks and c.thinking is not False and \
                set(c.sampling.shaping.stop_token_ids) & set(fmt.close_ids):
            raise ParamError(f"stop_token_ids holds the model's closing marker {fmt.spec.close!r}, which thinking "
                             "writes before the answer; leave it out", "stop_token_ids", "conflicting_parameters")
        budget, budget_field = c.budget, c.fields.get("budget")
        if c.thinking is False:
            budget, budget_field = 0, c.fields["thinking"]
        elif budget is None and c.effort:
            budget, budget_field = model.efforts[c.effort], c.fields["effort"]
        if budget and budget < model.safety_floor:  # the safety guard: no cut before the refusal decision
            budget = model.safety_floor
        budget, answer = self._lengths(model.name, budget, budget_field, c, limit)
        lengths = {"max_tokens": limit, **({"answer_tokens": answer} if answer else {})}
        if budget == 0:
            if c.early_exit:
                raise ParamError(f"{budget_field} skips thinking; early_exit cannot apply", "early_exit",
                                 "conflicting_parameters")
            name, params = "nothink", lengths
        elif c.early_exit:
            floor = {"floor": model.safety_floor} if model.safety_floor else {}
            name, params = c.early_exit, {**exit_params, **floor, **({"budget": budget} if budget else {}), **lengths}
        elif budget is not None:
            native = {"native": True} if model.native_budget and model.backend != "hf" else {}
            name, params = "budget", {"max": budget, **native, **lengths}
        else:
            base = parse_spec(model.method)
            name, params = base.name, {**_params(base), **lengths}
        param = "early_exit" if exit_params else budget_field or ("early_exit" if c.early_exit else None)
        return Plan(model, _method(name, params, param), limit, param=param)

    def _lengths(self, model: str, budget: int | None, field: str | None, c, limit: int) -> tuple[int | None, int]:
        """The thinking budget and the answer's room (0: the format's) under a request's max_tokens `limit`.

        A budget fits when max_tokens leaves room for the closing marker and one answer token (Anthropic's rule:
        max_tokens above budget_tokens); the answer gets what is left, up to the format's answer room. An
        explicit budget that does not fit is a 400; one that an effort level implies is lowered so that the
        answer keeps its share (the format's answer room, or half of max_tokens if that is less). Without a
        budget, an early exit gets the budget that leaves the answer that same share (its forced close, when thinking
        runs out, is inside the budget, so thinking, closing marker and answer stay within max_tokens)."""
        fmt = self.formats.get(model)
        if fmt is None or not fmt.spec.thinks or budget == 0:
            return budget, (limit if budget == 0 and c.max_tokens else 0)
        close, room = len(fmt.close_ids), fmt.answer_tokens
        share = min(room, limit // 2)
        if budget is not None and budget + close + 1 > limit:
            if "effort" not in c.fields or field != c.fields["effort"]:
                raise ParamError(f"{field} {budget} leaves no room for the answer: max_tokens must be above the "
                                 f"budget plus the {close}-token closing marker, at least {budget + close + 1} "
                                 f"(this server allows max_tokens up to {self.cfg.limits.max_tokens})", field)
            budget = max(1, limit - close - share)
        if budget is None and c.early_exit:  # the exit's forced close must fit too: a budget of what is left
            budget = limit - close - share
        answer = min(room, limit - budget - close) if budget is not None else share
        return budget, (0 if answer == room else answer)

    def served_model(self, name: str) -> str:
        """The model a request's `model` runs on (an alias's target model)."""
        if name in self.cfg.aliases:
            return parse_spec(self.cfg.aliases[name]).model or self.cfg.default_model
        if name not in self.cfg.models:
            names = ", ".join([*self.cfg.models, *self.cfg.aliases])
            raise NotFound(f"model {name!r} is not served here; choose one of {names}")
        return name

    @functools.cache  # noqa: B019 (one gateway per server; its tokenizers never change)
    def special_texts(self, model: str) -> re.Pattern | None:
        """One pattern for the texts of the tokens a decode with skip_special_tokens leaves out (the tokenizer's
        special added tokens, longest first; a real vocabulary has hundreds, removed per streamed token)."""
        tok = self.tokenizers[model]
        texts = sorted({t.content for t in tok.added_tokens_decoder.values() if t.special}, key=len, reverse=True)
        return re.compile("|".join(map(re.escape, texts))) if texts else None

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
        if sampling.top_k is not None:
            top_k = sampling.top_k
        stop = sampling.stop or ()
        kv = sampling.kv
        if kv is None and model in self.cfg.models and self.cfg.models[model].kv_cache:
            from brevity.engines.kv_policy import parse_kv_policy

            kv = parse_kv_policy(self.cfg.models[model].kv_cache)
        return Decoding(kv=kv if kv is not None and kv.evicts else None, temperature=float(temperature), top_p=1.0 if top_p is None else float(top_p), top_k=top_k,
                        seed=sampling.seed, logprobs=bool(sampling.logprobs), top_logprobs=sampling.top_logprobs or 0,
                        stop=(stop,) if isinstance(stop, str) else tuple(stop), shaping=sampling.shaping,
                        include_stop_str_in_output=sampling.include_stop_str_in_output,
                        skip_special_tokens=sampling.skip_special_tokens)

    def check(self, plan: Plan) -> None:
        """Let the method check itself against the engine (a budget too small for its closing phrase)."""
        name = plan.model.name
        try:
            # The HTTP side's own tokenizer: the engine's belongs to its worker thread.
            plan.method.check(SimpleNamespace(tokenizer=self.tokenizers[name], format=self.formats[name]))
        except ParamError:
            raise
        except BrevityError as e:
            raise ParamError(str(e), plan.param) from None

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


def _trim(lru: OrderedDict, limit: int, keep: set = frozenset()) -> None:
    """Drop the least recently used entries past `limit`, never those in `keep`."""
    extra = len(lru) - limit
    if extra <= 0:
        return
    for key in [k for k in lru if k not in keep][:extra]:
        del lru[key]


def _exit_params(extra: dict) -> dict[str, object]:
    """An early_exit object's parameters, as plain values the spec grammar can carry."""
    out = {}
    for k, v in extra.items():
        if not isinstance(v, (int, float, str)):
            raise ParamError(f"early_exit.{k} must be a number or a string", f"early_exit.{k}")
        if not k.isidentifier() or any(c in str(v) for c in ";=@,") or k in ("max_tokens", "budget"):
            raise ParamError(f"early_exit.{k}={v!r} is not allowed (budgets come from thinking_budget and "
                             "max_tokens; values may not contain ; = @ or ,)", f"early_exit.{k}")
        out[k] = v
    return out


def _params(spec) -> dict[str, object]:
    """A parsed spec's parameters, the positional one by its field name."""
    params: dict[str, object] = dict(spec.params)
    if spec.positional is not None:
        params[method_class(spec.name).positional] = spec.positional
    return params


def _method(name: str, params: dict[str, object], param: str | None) -> Method:
    """The typed method a request runs; a parameter it cannot take is the fault of the request's field `param`."""
    try:
        return method_from(name, params)
    except BrevityError as e:
        raise ParamError(str(e), param) from None


def _manifest_thinking(engine: Engine) -> float:
    """The model's mean `cot` thinking tokens on validation, from its manifest (zoo models have it)."""
    try:
        return float(read_manifest(getattr(engine, "model_path", None))["validation"]["cot_thinking_tokens"])
    except (KeyError, ValueError, TypeError):
        return 0.0
