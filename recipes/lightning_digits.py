"""A LightningModule and DataModule for scikit-learn's 8x8 digits, as a Lightning user writes
them: the ``lightning_digits.yaml`` recipe tunes them as they are."""

from __future__ import annotations

import lightning.pytorch as pl
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class DigitsData(pl.LightningDataModule):
    """The digits, scaled to [0, 1], split 80/20 (stratified, seeded)."""

    def __init__(self, batch_size: int = 64, seed: int = 0) -> None:
        super().__init__()
        self.batch_size = batch_size
        self.seed = seed

    def setup(self, stage: str | None = None) -> None:
        X, y = load_digits(return_X_y=True)
        X_train, X_valid, y_train, y_valid = train_test_split(
            X / 16.0, y, test_size=0.2, stratify=y, random_state=self.seed
        )
        self.train = _tensors(X_train, y_train)
        self.valid = _tensors(X_valid, y_valid)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train, batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.valid, batch_size=512)


class DigitsClassifier(pl.LightningModule):
    """A one-hidden-layer network; logs ``val_loss`` and ``val_accuracy`` each epoch."""

    def __init__(self, hidden: int = 64, dropout: float = 0.1, lr: float = 1e-3) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(
            nn.Linear(64, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, 10)
        )

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], index: int) -> torch.Tensor:
        X, y = batch
        loss = nn.functional.cross_entropy(self.net(X), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], index: int) -> None:
        X, y = batch
        logits = self.net(X)
        self.log("val_loss", nn.functional.cross_entropy(logits, y))
        self.log("val_accuracy", (logits.argmax(1) == y).float().mean())

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


def _tensors(X, y) -> TensorDataset:  # type: ignore[no-untyped-def]
    return TensorDataset(torch.tensor(X, dtype=torch.float32), torch.tensor(y))
