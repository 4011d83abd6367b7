"""Load a CSV or Parquet table: a target column, feature columns, optional group and text columns.

    data:
      loader: tunefw_plugins.data.table:load_table
      params: {path: my.csv, target: label, text: body}     # or features: [a, b, c]

A ``text`` column becomes TF-IDF features (word 1- and 2-grams). Its vocabulary and IDF
weights are fit on every row, validation rows included; the labels are not, so the leak is
small, but a final estimate belongs on a held-out file.
"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from sklearn.feature_extraction.text import TfidfVectorizer

from tunefw.errors import RecipeError, describe, printable
from tunefw.plugin_api.protocols import Dataset

#: How much of a CSV or TSV file is checked for text before pyarrow parses it.
SNIFF_BYTES = 64 * 1024


def read_table(path: str) -> pa.Table:
    """The table at ``path``; a file that is no table (binary, another encoding, corrupt) is
    one line naming it, quoting none of its bytes."""
    file = Path(path)
    if not file.is_file():
        raise RecipeError(f"data.params.path: {path}: file not found")
    try:
        if file.suffix == ".parquet":
            return pq.read_table(file)
        if not _is_text(path):
            raise RecipeError(
                f"data.params.path: {path}: not UTF-8 text (a binary file?); a table is CSV or "
                "TSV in UTF-8, or Parquet"
            )
        options = pacsv.ParseOptions(delimiter="\t" if file.suffix == ".tsv" else ",")
        return pacsv.read_csv(file, parse_options=options)
    except (pa.ArrowException, OSError) as exc:
        raise RecipeError(
            f"data.params.path: {path}: cannot read it as a table: {describe(exc)}"
        ) from None


def _is_text(path: str) -> bool:
    """Whether the file's start (decompressed, for ``.csv.gz`` and the like) is UTF-8 text."""
    with pa.input_stream(path, compression="detect") as stream:
        head = stream.read(SNIFF_BYTES)
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head)  # a character cut at the end is fine
    except UnicodeDecodeError:
        return False
    return b"\0" not in head


def _column(table: pa.Table, name: str, field: str, path: str) -> np.ndarray:
    if name not in table.column_names:
        columns = printable(", ".join(table.column_names))
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


def load_texts(path: str, text: str, target: str, groups: str | None = None) -> Dataset:
    """A table's ``text`` column as raw strings, for a trainable that tokenizes them itself
    (``transformers``); ``load_table`` with ``text`` gives TF-IDF features instead."""
    table = read_table(path)
    y = encode_labels(_column(table, target, "data.params.target", path))
    group_values = None if groups is None else _column(table, groups, "data.params.groups", path)
    texts = _column(table, text, "data.params.text", path).astype(str)
    return Dataset(X=texts, y=y, groups=group_values)
