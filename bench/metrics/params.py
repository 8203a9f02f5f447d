"""Parameter counts and weight size.

Conventions (the same as torchvision's ``num_params`` and the papers' "Params" column):

* ``total`` counts every learnable tensor registered with ``nn.Module.register_parameter``
  once, even when it is shared (tied) between modules. Buffers (BatchNorm running
  statistics, relative-position index tables, attention masks) are *not* parameters.
* ``trainable`` is the part with ``requires_grad=True``.
* Works on models built on the meta device: only shapes are read.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from torch import nn

from bench.errors import UserError

# Bytes per stored weight at each precision a suite cell can ask for.
BYTES_PER_WEIGHT: dict[str, int] = {"fp32": 4, "bf16": 2, "fp16": 2}
_PRECISION_ALIASES = {"float32": "fp32", "float": "fp32", "bfloat16": "bf16", "float16": "fp16", "half": "fp16"}

MIB = 1024 * 1024


@dataclass(frozen=True)
class ParamCount:
    total: int
    trainable: int

    @property
    def params_m(self) -> float:
        """Total parameters in millions (the unit of every published table)."""
        return self.total / 1e6

    @property
    def frozen(self) -> int:
        return self.total - self.trainable

    def to_dict(self) -> dict:
        return {**asdict(self), "params_m": self.params_m}

    def as_row(self) -> dict[str, float]:
        """Results columns (bench/schema.py)."""
        return {"params": self.total, "params_m": self.params_m, "trainable_params": self.trainable}


def count_params(model: nn.Module) -> ParamCount:
    """Count the unique parameters of ``model``; shared tensors are counted once."""
    total = trainable = 0
    # parameters() already skips a tensor met a second time under another name.
    for p in model.parameters():
        n = p.numel()
        total += n
        if p.requires_grad:
            trainable += n
    return ParamCount(total=total, trainable=trainable)


def normalise_precision(precision: str) -> str:
    key = precision.strip().lower()
    key = _PRECISION_ALIASES.get(key, key)
    if key not in BYTES_PER_WEIGHT:
        allowed = ", ".join(BYTES_PER_WEIGHT)
        raise UserError(f"unknown precision {precision!r} for weight size; allowed: {allowed}")
    return key


def weight_size_mb(model: nn.Module, precision: str = "fp32") -> float:
    """Size of the weights in MiB (2**20 bytes) when stored at ``precision``.

    Counted: every unique parameter, plus floating-point buffers (BatchNorm running
    mean/variance), each at ``precision`` bytes (fp32 = 4, bf16/fp16 = 2) — that is what
    a checkpoint of the model cast to that precision holds and what the device must keep
    resident. Not counted: integer buffers (``num_batches_tracked``, index tables), which
    are bookkeeping rather than weights, and any serialisation overhead. MiB is the unit
    torchvision's ``_file_size`` metadata uses.
    """
    nbytes_per = BYTES_PER_WEIGHT[normalise_precision(precision)]
    numel = count_params(model).total
    # buffers(), like parameters(), yields a shared tensor once.
    numel += sum(b.numel() for b in model.buffers() if b.is_floating_point())
    return numel * nbytes_per / MIB


def size_row(model: nn.Module, precision: str) -> dict[str, float]:
    """The size columns of a cell: parameter counts and the weights at the cell's precision."""
    return {**count_params(model).as_row(), "weight_mb": weight_size_mb(model, precision)}
