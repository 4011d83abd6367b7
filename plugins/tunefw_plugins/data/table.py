"""Load a CSV or Parquet table: a target column, feature columns, optional group and text columns.

    data:
      loader: tunefw_plugins.data.table:load_table
      params: {path: my.csv, target: label, text: body}     # or features: [a, b, c]

A ``text`` column becomes TF-IDF features (word 1- and 2-grams). Its vocabulary and IDF
weights are fit on every row, validation rows included; the labels are not, so the leak is
small, but a final estimate belongs on a held-out file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from sklearn.feature_extraction.text import TfidfVectorizer

from tunefw.errors import RecipeError
from tunefw.protocols import Dataset


def read_table(path: str) -> pa.Table:
    file = Path(path)
    if not file.is_file():
        raise RecipeError(f"data.params.path: {path}: file not found")
    if file.suffix == ".parquet":
        return pq.read_table(file)
    options = pacsv.ParseOptions(delimiter="\t" if file.suffix == ".tsv" else ",")
    return pacsv.read_csv(file, parse_options=options)


def _column(table: pa.Table, name: str, field: str, path: str) -> np.ndarray:
    if name not in table.column_names:
        columns = ", ".join(table.column_names)
        raise RecipeError(f"{field}: {path} has no column {name!r}; columns: {columns}")
    return table.column(name).to_numpy(zero_copy_only=False)


def encode_labels(values: np.ndarray) -> np.ndarray:
    """Numeric targets as they are; text labels as 0..k-1 in sorted order."""
    if np.issubdtype(values.dtype, np.number):
        return values
    return np.unique(values.astype(str), return_inverse=True)[1]


def load_table(
    path: str,
    target: str,
    features: list[str] | None = None,
    groups: str | None = None,
    text: str | None = None,
    max_features: int = 20_000,
) -> Dataset:
    table = read_table(path)
    y = encode_labels(_column(table, target, "data.params.target", path))
    group_values = None if groups is None else _column(table, groups, "data.params.groups", path)
    if text is not None:
        texts = _column(table, text, "data.params.text", path).astype(str)
        vectorizer = TfidfVectorizer(
            max_features=max_features, ngram_range=(1, 2), sublinear_tf=True
        )
        return Dataset(X=vectorizer.fit_transform(texts), y=y, groups=group_values)
    names = features or [c for c in table.column_names if c not in (target, groups)]
    columns: list[Any] = []
    for name in names:
        values = _column(table, name, "data.params.features", path)
        if not np.issubdtype(values.dtype, np.number):
            raise RecipeError(
                f"data.params.features: column {name!r} of {path} is not numeric "
                "(name a text column with data.params.text)"
            )
        columns.append(values.astype(np.float64))
    return Dataset(X=np.column_stack(columns), y=y, groups=group_values)
