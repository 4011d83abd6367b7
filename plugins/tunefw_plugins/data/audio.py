"""Load a folder of WAV clips, one sub-folder per class, as log-mel spectrogram features.

Clips are read with the standard library (PCM, any channel count, mixed to mono), padded or
cut to ``duration`` seconds, and turned into a log-mel spectrogram with torch (``stft``, a
triangular mel filterbank); a clip's features are each band's mean and standard deviation over
time. ``make_tones`` writes a small labelled set of synthetic clips.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import torch

from tunefw.errors import RecipeError
from tunefw.plugin_api.protocols import Dataset


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as clip:
        rate, channels, width = clip.getframerate(), clip.getnchannels(), clip.getsampwidth()
        raw = clip.readframes(clip.getnframes())
    dtype = {1: np.uint8, 2: np.int16, 4: np.int32}[width]
    samples = np.frombuffer(raw, dtype=dtype).astype(np.float32)
    if width == 1:
        samples = samples - 128.0
    samples /= float(2 ** (8 * width - 1))
    return samples.reshape(-1, channels).mean(axis=1), rate


def mel_filterbank(n_mels: int, n_fft: int, rate: int) -> torch.Tensor:
    """Triangular filters evenly spaced on the mel scale, shape (n_mels, n_fft // 2 + 1)."""

    def to_mel(hz: np.ndarray) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + hz / 700.0)

    def to_hz(mel: np.ndarray) -> np.ndarray:
        return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)

    edges = to_hz(np.linspace(0.0, to_mel(np.array(rate / 2.0)), n_mels + 2))
    bins = np.linspace(0.0, rate / 2.0, n_fft // 2 + 1)
    low, mid, high = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins - low) / np.maximum(mid - low, 1e-9)
    falling = (high - bins) / np.maximum(high - mid, 1e-9)
    return torch.tensor(np.clip(np.minimum(rising, falling), 0.0, None), dtype=torch.float32)


def log_mel_features(
    samples: np.ndarray, rate: int, n_mels: int, n_fft: int, hop: int
) -> np.ndarray:
    signal = torch.tensor(samples)
    spectrum = torch.stft(
        signal, n_fft, hop_length=hop, window=torch.hann_window(n_fft), return_complex=True
    )
    mel = mel_filterbank(n_mels, n_fft, rate) @ spectrum.abs().pow(2)
    log_mel = torch.log(mel + 1e-8)
    return torch.cat([log_mel.mean(dim=1), log_mel.std(dim=1)]).numpy()


def load_audio(
    path: str, duration: float = 0.5, n_mels: int = 32, n_fft: int = 256, hop: int = 128
) -> Dataset:
    root = Path(path)
    files = sorted(root.glob("*/*.wav")) if root.is_dir() else []
    if not files:
        raise RecipeError(
            f"data.params.path: {path} has no .wav clips (expected one folder per class)"
        )
    classes = sorted({f.parent.name for f in files})
    rows = []
    for file in files:
        samples, rate = read_wav(file)
        length = int(duration * rate)
        samples = np.pad(samples[:length], (0, max(0, length - len(samples))))
        rows.append(log_mel_features(samples, rate, n_mels, n_fft, hop))
    labels = np.array([classes.index(f.parent.name) for f in files])
    return Dataset(X=np.stack(rows).astype(np.float32), y=labels)
