"""The layout's rules (docs/ARCHITECTURE.md), checked on the source so they cannot drift."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "generation"
# Higher layers may import lower ones, never the reverse.
LAYERS = {"apps": 4, "api": 4, "admin": 4, "management": 4, "checks": 4, "worker": 4, "engine": 3, "quota": 2,
          "providers": 1}
LIBRARY = 0  # models, config, stats, sprites, styles, error_codes, ...: imported by all, importing none above


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS.get(parts[1], LIBRARY) if len(parts) > 1 and parts[0] == "generation" else LIBRARY


def imports_of(path: Path) -> list[tuple[str, list[str]]]:
    """(absolute module, imported names) for every `import` in the file, relative ones resolved."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            found.append((target, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found.extend((a.name, []) for a in node.names)
    return found


SOURCES = sorted(p for p in APP.rglob("*.py") if "migrations" not in p.parts)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_it_imports_only_downwards_and_only_public_names(path):
    me = module_name(path)
    for target, names in imports_of(path):
        if not target.startswith("generation"):
            continue
        for name in names:
            submodule = f"{target}.{name}"
            if (APP.parent / Path(*submodule.split("."))).with_suffix(".py").exists():
                target_layer = layer(submodule)
            else:
                target_layer = layer(target)
                assert not name.startswith("_"), f"{me} imports the private name {name} of {target}"
            assert target_layer <= layer(me), f"{me} (layer {layer(me)}) imports {target} (layer {target_layer})"


def test_it_has_no_import_circle_between_modules():
    graph = {module_name(p): set() for p in SOURCES}
    for path in SOURCES:
        for target, names in imports_of(path):
            for candidate in [f"{target}.{n}" for n in names] + [target]:
                if candidate in graph and candidate != module_name(path):
                    graph[module_name(path)].add(candidate)
                    break
    # A package's __init__ re-exporting its own modules is not a circle.
    for name, deps in graph.items():
        deps -= {d for d in set(deps) if name.startswith(d + ".")}
    state: dict[str, int] = {}

    def visit(node, trail):
        state[node] = 1
        for dep in graph[node]:
            assert state.get(dep) != 1, "import circle: " + " -> ".join([*trail, node, dep])
            if dep not in state:
                visit(dep, [*trail, node])
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [])


def test_no_source_file_passes_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in SOURCES if (n := len(p.read_text().splitlines())) > 400}
    assert long == {}
