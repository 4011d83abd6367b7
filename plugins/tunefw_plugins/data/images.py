"""Load a folder of images, one sub-folder per class (``cats/*.png``, ``dogs/*.jpg``).

Each image is converted to grayscale or RGB, resized, scaled to [0, 1] and flattened, so the
``cnn`` model takes it with ``model_params.image_shape: [channels, height, width]``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from tunefw.errors import RecipeError
from tunefw.plugin_api.protocols import Dataset

SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif"}


def load_images(path: str, size: tuple[int, int] = (32, 32), grayscale: bool = True) -> Dataset:
    root = Path(path)
    if not root.is_dir():
        raise RecipeError(f"data.params.path: {path}: no such folder")
    files = sorted(p for p in root.glob("*/*") if p.suffix.lower() in SUFFIXES)
    if not files:
        raise RecipeError(
            f"data.params.path: {path} has no images (expected one folder per class holding "
            f"{', '.join(sorted(SUFFIXES))} files)"
        )
    classes = sorted({f.parent.name for f in files})
    mode = "L" if grayscale else "RGB"
    rows = [
        np.asarray(Image.open(f).convert(mode).resize(size), dtype=np.float32).ravel() / 255.0
        for f in files
    ]
    labels = np.array([classes.index(f.parent.name) for f in files])
    return Dataset(X=np.stack(rows), y=labels)
