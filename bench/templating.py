"""The one Jinja environment factory: autoescaped (every value from a file or a model name is
text, never markup), strict about undefined names, templates looked up in ``<package>/templates``
of the packages given, first match wins."""

from __future__ import annotations

import jinja2

from bench.formatting import fmt_number


def environment(*packages: str, trim: bool = False) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader([jinja2.PackageLoader(p, "templates") for p in packages]),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=trim,
        lstrip_blocks=trim,
    )
    env.filters["num"] = fmt_number
    return env
