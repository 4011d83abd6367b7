"""The built-in torch models: an MLP for feature vectors and a small CNN for images.

Both have dropout layers (rate 0 unless the ``dropout`` regularizer sets it).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class MLP(nn.Module):
    def __init__(self, n_features: int, n_classes: int, hidden: int = 64, layers: int = 2) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        width = n_features
        for _ in range(layers):
            blocks += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(0.0)]
            width = hidden
        self.body = nn.Sequential(*blocks, nn.Linear(width, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x.flatten(1))


class SmallCNN(nn.Module):
    """Two 3x3 convolutions, a max-pool and a linear head; rows are reshaped to ``image_shape``."""

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        image_shape: tuple[int, int, int] = (1, 8, 8),
        channels: int = 16,
    ) -> None:
        super().__init__()
        c, h, w = image_shape
        if c * h * w != n_features:
            raise ValueError(f"image_shape {image_shape} does not hold {n_features} features")
        self.image_shape = (c, h, w)
        self.features = nn.Sequential(
            nn.Conv2d(c, channels, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels, 2 * channels, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.head = nn.Sequential(
            nn.Flatten(), nn.Dropout(0.0), nn.Linear(2 * channels * (h // 2) * (w // 2), n_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x.reshape(-1, *self.image_shape)))


BUILT_IN: dict[str, Any] = {"mlp": MLP, "cnn": SmallCNN}
