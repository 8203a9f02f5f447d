"""`python -m bench.tools.imports`: the module graph of bench, and a failure on an import cycle."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from bench.tools.imports import build_graph, cycles

ROOT = Path(__file__).resolve().parent.parent


def test_bench_has_no_import_cycle():
    res = subprocess.run([sys.executable, "-m", "bench.tools.imports"], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    lines = dict(line.split(" -> ", 1) for line in res.stdout.splitlines() if " -> " in line)
    assert "bench.results" in lines["bench.worker"]  # the graph is printed, one module per line
    # model builders never import the registry (it loads them from bench/models/catalog.py)
    for builder in ("bench.models.tiny", "bench.models.faults", "bench.models.internimage", "bench.accuracy.small_models"):
        assert "bench.registry" not in lines.get(builder, ""), builder


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "pkg"
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))
    return root


def test_a_cycle_is_found_even_through_a_lazy_import(tmp_path):
    root = _package(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "from pkg import b\n",
            "b.py": "def f():\n    from pkg.sub.c import g\n    return g\n",
            "sub/__init__.py": "",
            "sub/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import d\nimport pkg.a\n",
            "d.py": "from pkg.sub import c\n",
        },
    )
    graph = build_graph(root, "pkg")
    assert graph["pkg.b"] == {"pkg.sub.c"} and graph["pkg.sub.c"] == {"pkg.a"}  # TYPE_CHECKING ignored
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.sub.c"]]
    # d -> c is one-way (c only imports d for type checking): no cycle
    assert graph["pkg.d"] == {"pkg.sub.c"}
