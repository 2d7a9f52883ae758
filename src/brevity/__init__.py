"""Brevity: make large reasoning models spend fewer tokens for the same answers.

The Python API (brevity.api) is here: `brevity.benchmark`, `brevity.method`, `brevity.engine`, `brevity.grade`,
`brevity.resolve_format`, `brevity.score`; each loads what it needs on first use, so `import brevity` stays light.
"""

__version__ = "0.2.0"

_API = frozenset({"BenchResult", "benchmark", "engine", "grade", "method", "resolve_format", "score"})
__all__ = ["__version__", *sorted(_API)]


def __getattr__(name: str):
    if name in _API:
        from brevity import api

        return getattr(api, name)
    raise AttributeError(f"module 'brevity' has no attribute {name!r}")
