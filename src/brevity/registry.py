"""How tasks, methods and recipes are found: one loader for every registry. The built-in entries are known by
name; installed packages add theirs through an entry-point group, so a method, a task or a training recipe can
live in another package. Loaded on first use, whatever the caller happened to import before."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from importlib.metadata import entry_points
from typing import Any

from brevity.errors import BrevityError

_done: set[str] = set()


def entry_refs(taken: Iterable[str], group: str, kind: str) -> dict[str, str]:
    """name -> "module:object" for the entry points of `group`, nothing imported yet. A package's entry never
    replaces a built-in one (a name in `taken`)."""
    taken, table = set(taken), {}
    for ep in entry_points(group=group):
        if ep.name in taken:
            raise BrevityError(f"the installed package's {kind} {ep.name!r} ({ep.value}) has the name of a built-in "
                               f"{kind}; rename it in its entry points ({group})")
        table[ep.name] = ep.value
    return table


def load_ref(ref: str, kind: str, name: str) -> Any:
    """Import "module:object" (object may be dotted); a broken plugin is named in one line."""
    module, _, attr = ref.partition(":")
    try:
        obj = importlib.import_module(module)
        for part in filter(None, attr.split(".")):
            obj = getattr(obj, part)
    except Exception as e:  # noqa: BLE001  (a broken plugin: name it, in one line)
        raise BrevityError(f"could not load the {kind} {name!r} from {ref}: {type(e).__name__}: {e}") from None
    return obj


def load_registry(table: dict[str, Any], modules: tuple[str, ...], group: str, kind: str,
                  wrap: Callable[[str, Any], Any] = lambda name, obj: obj) -> None:
    """Fill `table` (name -> entry) from `modules`, whose import registers the built-ins, and the entry points of
    `group`; `wrap(name, obj)` turns a loaded entry-point object into the table's entry (or refuses it)."""
    if group in _done:
        return
    _done.add(group)
    for module in modules:
        importlib.import_module(module)
    for name, ref in entry_refs(table, group, kind).items():
        table[name] = wrap(name, load_ref(ref, kind, name))
