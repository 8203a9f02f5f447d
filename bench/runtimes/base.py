"""What a runtime backend is: a cheap ``check`` and an expensive ``build``.

A backend turns a built model and an example input into the zero-argument ``step`` that runs one
timed model call, plus the facts about the preparation that become row columns (``info``).
Everything costly (conversion, compilation, export, session creation) happens in ``build``,
outside the timed region; ``check`` only raises :class:`bench.errors.Unsupported` for a cell
this backend cannot run here (package missing, device or precision not measured), before anything
is built. Backends are looked up by runtime name in :mod:`bench.runtimes.backends`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Protocol

if TYPE_CHECKING:
    import torch

    from bench.suite import Cell

Step = Callable[[], Any]


class Backend(Protocol):
    @property
    def name(self) -> str:
        """The runtime name in suites and rows."""
        ...

    def check(self, cell: Cell) -> None:
        """Raise Unsupported when this cell cannot run here; costs nothing."""
        ...

    def build(self, model: torch.nn.Module, example: torch.Tensor, cell: Cell) -> tuple[Step, dict[str, Any]]:
        """The timed ``step`` and the row columns its preparation adds; ``check`` has passed."""
        ...
