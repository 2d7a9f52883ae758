"""How tasks and methods are found: one loader for both registries. The built-in modules register their entries
when imported; installed packages add theirs through an entry-point group, so a method or a task can live in
another package. Loaded once, on first use, whatever the caller happened to import before."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from brevity.errors import BrevityError

_done: set[str] = set()


def load_registry(table: dict[str, Any], modules: tuple[str, ...], group: str, kind: str,
                  wrap: Callable[[str, Any], Any] = lambda name, obj: obj) -> None:
    """Fill `table` (name -> entry) from `modules` and the entry points of `group`; `wrap(name, obj)` turns a
    loaded entry-point object into the table's entry (or refuses it). A package's entry never replaces a built-in
    one."""
    if group in _done:
        return
    _done.add(group)
    for module in modules:
        importlib.import_module(module)
    for ep in entry_points(group=group):
        if ep.name in table:
            raise BrevityError(f"the installed package's {kind} {ep.name!r} ({ep.value}) has the name of a built-in "
                               f"{kind}; rename it in its entry points ({group})")
        try:
            table[ep.name] = wrap(ep.name, ep.load())
        except BrevityError:
            raise
        except Exception as e:  # noqa: BLE001  (a broken plugin: name it, in one line)
            raise BrevityError(f"could not load the {kind} {ep.name!r} from {ep.value} ({group}): "
                               f"{type(e).__name__}: {e}") from None
