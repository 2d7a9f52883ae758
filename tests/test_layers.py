"""The layers of DESIGN.md point down only: a module never imports (even lazily) from a higher layer, and
only the zoo's own build and recipes import the zoo's chat format."""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "brevity"
LAYER = {  # package or module -> layer
    "errors": 0, "tasks": 0, "formats": 0, "thinking": 0,
    "engines": 1,
    "methods": 2,
    "bench": 3, "recipes": 3, "route": 3, "merge": 3, "serve": 3, "zoo": 3, "explain": 3, "conformance": 3, "ui": 3,
    "cli": 4,
}


def imports(path: Path) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("brevity."):
            out.append(node.module)
        elif isinstance(node, ast.Import):
            out += [a.name for a in node.names if a.name.startswith("brevity.")]
    return out


def top(module: str) -> str:
    return module.split(".")[1]


def test_layers_point_down_only():
    bad = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC)
        own = rel.parts[0].removesuffix(".py")
        if own == "__init__":
            continue
        for module in imports(path):
            if LAYER[top(module)] > LAYER[own]:
                bad.append(f"{rel} imports {module}")
    assert not bad, "\n".join(bad)


def test_only_the_zoo_build_and_recipes_import_the_zoo_chat_format():
    users = {str(p.relative_to(SRC)) for p in SRC.rglob("*.py") if "brevity.zoo.chat" in imports(p)}
    assert all(u.startswith(("zoo/", "recipes/")) for u in users), sorted(users)
