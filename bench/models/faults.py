"""A model that misbehaves on purpose, so tests can exercise every fault path of the runner
for real: raising, being killed, hanging past the timeout, returning a non-tensor, and
asking for more memory than the worker may have. Registered as ``fault:model``; it never
matches the ``test:*`` glob, so it only runs where a suite names it.
"""

from __future__ import annotations

import os
import signal
import time

import torch
from torch import nn

MODES = ("ok", "raise", "kill", "hang", "tuple", "alloc")


class FaultModel(nn.Module):
    def __init__(self, mode: str = "ok", alloc_mb: int = 4096, num_classes: int = 10, img_size: int = 32):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.mode = mode
        self.alloc_mb = alloc_mb
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.head = nn.Linear(4, num_classes)

    def forward(self, x: torch.Tensor):
        if self.mode == "raise":
            raise RuntimeError("deliberate failure inside forward()")
        if self.mode == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if self.mode == "hang":
            time.sleep(3600)
        if self.mode == "alloc":
            # Grows the batch dimension's buffer beyond the worker's memory cap.
            big = torch.empty(self.alloc_mb * 1024 * 1024 // 4 * x.shape[0], dtype=torch.float32)
            big.fill_(1.0)
        y = self.head(self.conv(x).mean(dim=(2, 3)))
        return (y, y) if self.mode == "tuple" else y
