"""Write a small labelled set of synthetic audio clips.

    python -m tunefw_plugins.data.make_tones recipes/data/tones

Four classes, one folder each: a low tone, a high tone, a rising chirp, and noise; every clip
has a random pitch offset, loudness, phase and background noise, so the task is not trivial.
"""

from __future__ import annotations

import sys
import wave
from pathlib import Path

import numpy as np

RATE = 8000


def _clip(kind: str, rng: np.random.Generator, seconds: float) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    shift = rng.uniform(0.85, 1.15)
    phase = rng.uniform(0, 2 * np.pi)
    if kind == "low_tone":
        wave_ = np.sin(2 * np.pi * 300 * shift * t + phase)
    elif kind == "high_tone":
        wave_ = np.sin(2 * np.pi * 1200 * shift * t + phase)
    elif kind == "chirp":
        wave_ = np.sin(2 * np.pi * (300 + 1800 * t / seconds) * shift * t + phase)
    else:
        wave_ = rng.normal(0, 0.6, t.size)
    noisy = rng.uniform(0.03, 0.3) * wave_ + rng.normal(0, 0.4, t.size)
    return np.clip(noisy, -1, 1)


def make_tones(folder: Path, per_class: int = 24, seconds: float = 0.5, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for kind in ("low_tone", "high_tone", "chirp", "noise"):
        (folder / kind).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pcm = (_clip(kind, rng, seconds) * 32767).astype("<i2")
            with wave.open(str(folder / kind / f"{kind}_{i:02d}.wav"), "wb") as out:
                out.setnchannels(1)
                out.setsampwidth(2)
                out.setframerate(RATE)
                out.writeframes(pcm.tobytes())


if __name__ == "__main__":
    make_tones(Path(sys.argv[1] if len(sys.argv) > 1 else "recipes/data/tones"))
