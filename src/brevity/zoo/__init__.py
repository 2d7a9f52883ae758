"""The embedded default models: tiny Llama-architecture reasoning models trained by Brevity's recipes."""

from brevity.zoo.registry import MEMBERS, ZOO_DIR, list_members, resolve_model

__all__ = ["MEMBERS", "ZOO_DIR", "list_members", "resolve_model"]
