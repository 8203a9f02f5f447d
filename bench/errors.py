"""User-facing errors: one clear message and an exit code, never a traceback.

:func:`validation_message` is the one formatter of pydantic validation errors (suites, their
accuracy tasks and compare section, compare settings from a run or the command line): one
line per problem with the field's path (``accuracy[0].epochs``), what is wrong, the bad value
and what is allowed. Pydantic is imported only for type checking, so this module stays light.
"""

from __future__ import annotations

import difflib
import typing
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError


class UserError(Exception):
    """Bad input from the user (suite file, CLI argument, data path).

    The CLI prints ``str(err)`` and exits with ``exit_code`` (2 = unusable input).
    """

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code


class Unsupported(Exception):
    """This cell's device/precision/runtime combination cannot run here (a reason, not a bug).

    The worker records it as a ``skipped`` cell with this message. It lives here, not with the
    runtimes, so every backend can raise it without importing the module that dispatches to it.
    """


def validation_message(header: str, err: ValidationError, model: type[BaseModel] | None = None, prefix: str = "") -> str:
    """``header`` and one indented line per problem (see :func:`validation_error_lines`)."""
    return header + "\n" + "\n".join(validation_error_lines(err, model, prefix))


def validation_error_lines(err: ValidationError, model: type[BaseModel] | None = None, prefix: str = "") -> list[str]:
    """One indented line per pydantic error: the field's path (after ``prefix``) and what is wrong.

    With ``model`` (the validated class) an unknown field names the closest allowed one, or the
    sources it belongs to when it is a field of another branch of a union keyed on ``source``;
    union branch labels that pydantic puts in the path (``ModelEntry``, ``str``, a tag) are left out.
    """
    errors = err.errors()
    spots = [_walk(model, e["loc"], e["type"] == "extra_forbidden") for e in errors]
    # A model line with a typo fails both branches of ``ModelEntry | str``; the model branch says why.
    tried_model = {s.union_at for s in spots if s.union_at and not s.plain_branch}
    lines = []
    for e, spot in zip(errors, spots):
        if spot.plain_branch and spot.union_at in tried_model:
            continue
        where, msg = spot.path, e["msg"].removeprefix("Value error, ")
        kind, ctx = e["type"], e.get("ctx") or {}
        if kind == "extra_forbidden":
            msg = _unknown_field(str(e["loc"][-1]), spot)
        elif kind in ("union_tag_invalid", "union_tag_not_found"):
            key = str(ctx.get("discriminator", "")).strip("'")
            where = f"{where}.{key}" if where else key
            tags = [t for m in spot.models for t in _literal_values(m, key)]
            msg = f"Input should be {_one_of(tags)}"
            msg += f" (got {_short(ctx.get('tag'))})" if kind == "union_tag_invalid" else " (missing)"
        elif kind in ("literal_error", "model_attributes_type", "model_type", "dict_type"):
            msg = f"{msg} (got {_short(e.get('input'))})"
        if prefix and where:
            where = prefix + ("" if where.startswith("[") else ".") + where
        lines.append(f"  {where or prefix or '(top level)'}: {msg}")
    return lines


class _Spot(typing.NamedTuple):
    path: str  # the field path as users write it: models[0].alias
    models: list[Any]  # the model classes that hold the last part of the path
    branch: tuple[str, str, list[Any]] | None  # (tag field, tag, every branch) of the innermost tagged union
    union_at: tuple[Any, ...] | None  # where in ``loc`` the innermost union branch is named
    plain_branch: bool  # that branch is not a model (``str``, ``int``)


def _walk(model: type[BaseModel] | None, loc: Sequence[Any], last_is_field: bool) -> _Spot:
    path = ""
    here: list[Any] = [model] if model else []
    holders = here
    branch = None
    union_at, plain = None, False
    for i, part in enumerate(loc):
        if isinstance(part, int):
            path += f"[{part}]"
            continue
        holders = here
        owners = [m for m in here if part in m.model_fields]
        if owners or not here or (last_is_field and i == len(loc) - 1):
            path += ("." if path else "") + str(part)
            here = [sub for m in owners for sub in _models_in(m.model_fields[part].annotation)]
            continue
        # Not a field: pydantic names the union branch it tried (a class name, a tag, a type).
        union_at = tuple(loc[:i])
        tagged = [(m, key) for m in here for key in m.model_fields if _literal_values(m, key) == [part]]
        named = [m for m in here if m.__name__ == part]
        plain = not (tagged or named)
        if tagged:
            branch = (tagged[0][1], str(part), here)
            here = [m for m, _ in tagged]
        elif named:
            here = named
    return _Spot(path, holders if last_is_field else here, branch, union_at, plain)


def _unknown_field(name: str, spot: _Spot) -> str:
    allowed = sorted({f for m in spot.models for f in m.model_fields})
    if spot.branch:
        key, tag, branches = spot.branch
        homes = [t for m in branches if name in m.model_fields for t in _literal_values(m, key)]
        if homes:
            return f"field '{name}' does not apply to {key} '{tag}' (it is for: {', '.join(homes)})"
    near = difflib.get_close_matches(name, allowed, n=1, cutoff=0.5) if allowed else []
    if near:
        return f"unknown field — did you mean {near[0]}?"
    if spot.branch:  # perhaps a misspelt field of another source: say whose it is
        key, tag, branches = spot.branch
        others = sorted({f for m in branches for f in m.model_fields} - set(allowed))
        near = difflib.get_close_matches(name, others, n=1, cutoff=0.7)
        if near:
            homes = [t for m in branches if near[0] in m.model_fields for t in _literal_values(m, key)]
            return f"unknown field (allowed: {', '.join(allowed)}); {near[0]} is a field of {key} {', '.join(homes)}"
    return f"unknown field (allowed: {', '.join(allowed)})" if allowed else "unknown field"


def _models_in(annotation: Any) -> list[Any]:
    """The pydantic model classes inside a field's annotation (``list[A | str]`` → [A])."""
    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for a in typing.get_args(annotation) for m in _models_in(a)]


def _literal_values(model: Any, field: str) -> list[Any]:
    info = model.model_fields.get(field)
    if info is None or typing.get_origin(info.annotation) is not typing.Literal:
        return []
    return list(typing.get_args(info.annotation))


def _one_of(values: Sequence[Any]) -> str:
    quoted = [repr(v) for v in values]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
