"""Reasoning formats: the library's protocol for how each model family writes its reasoning."""

from brevity.formats.base import ModelFormat, ReasoningFormat, Split
from brevity.formats.catalog import FORMATS
from brevity.formats.resolve import detect, format_names, get_format, load_format, resolve_format

__all__ = ["FORMATS", "ModelFormat", "ReasoningFormat", "Split", "detect", "format_names", "get_format",
           "load_format", "resolve_format"]
