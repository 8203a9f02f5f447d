"""`archbench list`: registered models by name and family, fast.

Listing never builds a model by default: names and families come from the registry, and a
parameter count only where a library already ships it as data (torchvision's weight metadata
``num_params``). ``--params`` builds each model on the meta device (no weights allocated) to
count the rest, which takes seconds per hundred models. Every match is shown, and the count is
said; on a terminal the table is Rich's, otherwise one tab-separated line per model with full
names, so pipes and ``grep`` see everything.
"""

from __future__ import annotations

import json
import sys
import warnings
from dataclasses import asdict, dataclass
from typing import Any

from bench.errors import UserError


@dataclass
class ListedModel:
    name: str
    family: str
    source: str
    default_img_size: int
    params_m: float | None
    params_from: str | None  # "library metadata" | "counted (meta device)" | None


def _counted_params(name: str) -> int | None:
    from bench import registry

    try:
        model = registry.build_on_meta(name)
        return sum(p.numel() for p in model.parameters())
    except Exception:
        return None


def list_models(pattern: str | None, family: str | None = None, count_params: bool = False) -> list[ListedModel]:
    """Models matching ``pattern`` (all of archbench's own when None), optionally one family."""
    from bench import registry

    if family is not None and family not in registry.FAMILIES:
        raise UserError(f"--family {family!r}: allowed families are {', '.join(registry.FAMILIES)}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # timm/torchvision deprecation chatter is not ours to show
        if pattern:
            specs = registry.list_models(pattern)
        else:
            specs = [s for s in registry.list_models("*") if s.source not in ("tv", "timm")]
        if family:
            specs = [s for s in specs if s.family == family]
        out = []
        for s in specs:
            n, src = registry.published_params(s.name), "library metadata"
            if n is None and count_params:
                n, src = _counted_params(s.name), "counted (meta device)"
            out.append(
                ListedModel(
                    s.name, s.family, s.source, s.default_img_size, None if n is None else n / 1e6, src if n is not None else None
                )
            )
    return out


def cmd_list(args: Any) -> int:
    try:
        return _print_list(args)
    except BrokenPipeError:  # `archbench list | head`: the reader left, which is not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _print_list(args: Any) -> int:
    pattern = args.pattern
    models = list_models(pattern, args.family, args.params)
    what = f"matching {pattern!r}" if pattern else "of archbench's own (give a PATTERN to search tv: and timm:)"
    if args.family:
        what += f", family {args.family}"
    if not models:
        raise UserError(f"no registered model {what}" + _hint(pattern))
    if args.json:
        print(json.dumps([asdict(m) for m in models], indent=1))
        return 0
    missing = sum(m.params_m is None for m in models)
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table

        # Patterns and names are data, never Rich markup (a pattern may hold `[`).
        table = Table(title=escape(f"{len(models)} models {what}"))
        for col in ("name", "family", "source", "default img", "params (M)"):
            table.add_column(
                col, justify="right" if col in ("default img", "params (M)") else "left", overflow="fold", no_wrap=col == "name"
            )
        for m in models:
            table.add_row(escape(m.name), m.family, m.source, str(m.default_img_size), _fmt(m.params_m))
        Console().print(table)
    else:
        print("name\tfamily\tsource\tdefault_img\tparams_m")
        for m in models:
            print(f"{m.name}\t{m.family}\t{m.source}\t{m.default_img_size}\t{_fmt(m.params_m)}")
    tail = f"{len(models)} models {what}"
    if missing and not args.params:
        tail += f"; params shown where the library publishes them ({len(models) - missing}), --params counts the other {missing}"
    print(tail, file=sys.stderr)
    return 0


def _fmt(v: float | None) -> str:
    return "" if v is None else f"{v:.2f}"


def _hint(pattern: str | None) -> str:
    if not pattern:
        return ""
    from bench import registry

    near = registry.closest_names(pattern.replace("*", "").replace("?", ""))
    return f". Closest names: {', '.join(near)}" if near else ""
