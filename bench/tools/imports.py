"""Module dependency graph of ``bench``; exits 1 when modules import each other in a circle.

    python -m bench.tools.imports            # the graph (module -> the bench modules it imports)
    python -m bench.tools.imports --cycles   # only the cycles

Every import statement counts, including those inside functions (a lazy import still makes the
two modules depend on each other; it only hides the circle until a caller trips over it), except
those under ``if TYPE_CHECKING:``. Importing a submodule does not count as importing its parent
package's ``__init__``: that edge is Python's mechanics, not a design choice.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = "bench"
ROOT = Path(__file__).resolve().parent.parent  # .../bench


def module_files(root: Path = ROOT) -> dict[str, Path]:
    out = {}
    for p in sorted(root.rglob("*.py")):
        parts = list(p.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts[-1] != "__main__":
            out[".".join(parts)] = p
    return out


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.id if isinstance(test, ast.Name) else test.attr if isinstance(test, ast.Attribute) else ""
            if name == "TYPE_CHECKING":
                skip.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return skip


def _resolve(name: str, modules: set[str]) -> str | None:
    """The longest known module that ``name`` is or lies in (``bench.x.func`` → ``bench.x``)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str, path: Path, modules: set[str], package: str = PACKAGE) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    skip = _type_checking_nodes(tree)
    is_pkg = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's package
                pkg = module if is_pkg else module.rpartition(".")[0]
                for _ in range(node.level - 1):
                    pkg = pkg.rpartition(".")[0]
                base = f"{pkg}.{base}" if base else pkg
            # `from pkg import sub` imports the submodule when there is one
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        for t in targets:
            dep = _resolve(t, modules) if t == package or t.startswith(package + ".") else None
            if dep and dep != module:
                found.add(dep)
    return found


def build_graph(root: Path = ROOT, package: str = PACKAGE) -> dict[str, set[str]]:
    files = module_files(root)
    names = set(files)
    return {m: imports_of(m, p, names, package) for m, p in files.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:  # recursion depth is bounded by the number of modules (~100)
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


def _path_within(graph: dict[str, set[str]], comp: list[str]) -> list[str]:
    """One concrete circle inside a component, for the message: a → b → … → a."""
    members = set(comp)
    start = comp[0]
    prev: dict[str, str] = {}
    todo = [start]
    while todo:
        v = todo.pop(0)
        for w in sorted(graph[v] & members):
            if w == start:
                path = [v]
                while path[-1] != start:
                    path.append(prev[path[-1]])
                return path[::-1] + [start]
            if w not in prev:
                prev[w] = v
                todo.append(w)
    return comp


def main(argv: list[str]) -> int:
    graph = build_graph()
    found = cycles(graph)
    if "--cycles" not in argv:
        for m in sorted(graph):
            deps = sorted(graph[m])
            print(f"{m} -> {', '.join(deps)}" if deps else m)
    if found:
        print(f"\n{len(found)} import cycle(s) in {PACKAGE}:", file=sys.stderr)
        for comp in found:
            print("  " + " -> ".join(_path_within(graph, comp)), file=sys.stderr)
            if len(comp) > 2:
                print(f"    (all of: {', '.join(comp)})", file=sys.stderr)
        return 1
    print(f"\nno import cycles among {len(graph)} modules of {PACKAGE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
