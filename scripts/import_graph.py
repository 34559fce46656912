"""The import graph of ``src/synthrec`` and the layering rules it must keep.

Reads every module with ``ast`` (module-level *and* function-local imports, ``TYPE_CHECKING`` blocks
excluded: they never run), builds the file graph and the package graph (first level under
``synthrec``), and reports:

* file circles (strongly connected components with more than one module);
* package circles (the same over packages);
* the stated rules: ``data/`` imports nothing of ours but ``errors``; generators and models never
  import each other; ``report/`` imports no ``experiments/``; ``generators/`` import no ``evaluation/``
  (the statistics a generator checks itself with live in ``data/stats.py``).

Run ``python scripts/import_graph.py`` (exit 1 when a rule is broken); ``tests/test_architecture.py``
runs the same check in CI.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "synthrec"

# (importer package, imported package) pairs that must never appear; "*" = any of ours.
FORBIDDEN: tuple[tuple[str, str, str], ...] = (
    ("generators", "models", "generators and models never import each other"),
    ("models", "generators", "generators and models never import each other"),
    ("report", "experiments", "report/ renders only: it imports no experiments/"),
    ("generators", "evaluation", "generators/ import no evaluation/ (shared statistics: data/stats.py)"),
)
# data/ may import only these of ours.
DATA_MAY_IMPORT = {"data", "errors"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = module.split(".") if is_package else module.split(".")[:-1]
                    base = base[: len(base) - (child.level - 1)]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module or ""
                # ``from synthrec.x import y`` imports the submodule x.y when there is one, else x itself.
                found.update(f"{target}\0{alias.name}" for alias in child.names)
            visit(child)

    visit(tree)
    return found


def file_graph() -> dict[str, set[str]]:
    paths = sorted((ROOT / PACKAGE).rglob("*.py"))
    modules = {module_name(p): p for p in paths}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        targets = _imports(tree, name, path.name == "__init__.py")
        resolved = set()
        for target in targets:
            if "\0" in target:
                parent, child = target.split("\0")
                target = f"{parent}.{child}" if f"{parent}.{child}" in modules else parent
            resolved.add(target)
        graph[name] = {t for t in resolved if t in modules and t != name}
    return graph


def package_of(module: str) -> str:
    """The first level under ``synthrec``: a package (``data``) or a top-level module (``errors``)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    packages: dict[str, set[str]] = defaultdict(set)
    for module, targets in graph.items():
        source = package_of(module)
        packages[source]
        for target in targets:
            if package_of(target) != source:
                packages[source].add(package_of(target))
    return dict(packages)


def edges_between(graph: dict[str, set[str]], source: str, target: str) -> list[str]:
    return sorted(
        f"{m} -> {t}" for m, ts in graph.items() for t in ts if package_of(m) == source and package_of(t) == target
    )


def problems() -> list[str]:
    graph = file_graph()
    found: list[str] = []
    for component in circles(graph):
        found.append("file circle: " + " <-> ".join(component))
    packages = package_graph(graph)
    for component in circles(packages):
        members = [p or "synthrec (top level)" for p in component]
        detail = "; ".join(e for a in component for b in component if a != b for e in edges_between(graph, a, b))
        found.append("package circle: " + " <-> ".join(members) + f" ({detail})")
    for source, target, rule in FORBIDDEN:
        for edge in edges_between(graph, source, target):
            found.append(f"{rule}: {edge}")
    for module, targets in graph.items():
        if package_of(module) != "data":
            continue
        for target in sorted(targets):
            if package_of(target) not in DATA_MAY_IMPORT:
                found.append(f"data/ imports nothing else of ours: {module} -> {target}")
    return found


def main() -> int:
    found = problems()
    for line in found:
        print(line)
    if not found:
        graph = file_graph()
        print(f"import graph clean: {len(graph)} modules, no file or package circle, layering rules kept")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
