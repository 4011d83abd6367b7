"""Training-time augmentation for image rows: random pixel shifts.

Shift invariance learned while pretraining is what carries over to new classes (see the
transfer recipes); without it the pretrained features help no more than random ones.
"""

from __future__ import annotations

import torch
from torch import nn


def shift_images(
    rows: torch.Tensor, shape: tuple[int, int, int], pixels: int, generator: torch.Generator
) -> torch.Tensor:
    """Each row, seen as a ``shape`` image, moved by up to ``pixels`` in each direction
    (zero-filled), by offsets drawn from ``generator``."""
    c, h, w = shape
    images = rows.reshape(-1, c, h, w)
    padded = nn.functional.pad(images, (pixels, pixels, pixels, pixels))
    offsets = torch.randint(0, 2 * pixels + 1, (len(rows), 2), generator=generator)
    shifted = torch.empty_like(images)
    for dy in range(2 * pixels + 1):
        for dx in range(2 * pixels + 1):
            chosen = (offsets[:, 0] == dy) & (offsets[:, 1] == dx)
            shifted[chosen] = padded[chosen, :, dy : dy + h, dx : dx + w]
    return shifted.reshape(rows.shape)
