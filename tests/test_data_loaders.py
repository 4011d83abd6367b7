"""The built-in data loaders, and their refusals at validation time."""

from __future__ import annotations

import textwrap

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image
from scipy.sparse import issparse
from sklearn.datasets import load_digits

from tunefw.cli.main import main
from tunefw.errors import RecipeError
from tunefw_plugins.data.audio import load_audio
from tunefw_plugins.data.images import load_images
from tunefw_plugins.data.make_tones import make_tones
from tunefw_plugins.data.make_topics import make_topics
from tunefw_plugins.data.table import load_table

CSV = "a,b,site,label\n1,2,x,yes\n3,4,x,no\n5,6,y,yes\n7,8,y,no\n9,10,z,yes\n11,12,z,no\n"


def test_table_from_csv_and_parquet(tmp_path):
    csv = tmp_path / "t.csv"
    csv.write_text(CSV)
    data = load_table(str(csv), target="label", features=["a", "b"], groups="site")
    assert data.X.shape == (6, 2) and list(data.y) == [1, 0, 1, 0, 1, 0]
    assert list(data.groups) == ["x", "x", "y", "y", "z", "z"]
    parquet = tmp_path / "t.parquet"
    pq.write_table(pa.table({"f": [0.5, 1.5], "label": [3, 4]}), parquet)
    assert load_table(str(parquet), target="label").X.tolist() == [[0.5], [1.5]]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target": "nope"}, "data.params.target: .* has no column 'nope'"),
        ({"target": "label", "groups": "team"}, "data.params.groups: .* has no column 'team'"),
        ({"target": "label"}, "data.params.features: column 'site' .* is not numeric"),
    ],
)
def test_table_refusals(tmp_path, kwargs, message):
    csv = tmp_path / "t.csv"
    csv.write_text(CSV)
    with pytest.raises(RecipeError, match=message):
        load_table(str(csv), **kwargs)


def test_text_becomes_tfidf(tmp_path):
    corpus = tmp_path / "topics.csv"
    make_topics(corpus, per_topic=5)
    data = load_table(str(corpus), target="topic", text="text")
    assert issparse(data.X) and data.X.shape[0] == 20
    assert sorted(set(data.y)) == [0, 1, 2, 3]


def test_images_from_class_folders(tmp_path):
    digits = load_digits()
    for label in (0, 1):
        folder = tmp_path / f"digit{label}"
        folder.mkdir()
        for i, image in enumerate(digits.images[digits.target == label][:4]):
            Image.fromarray((image * 15).astype(np.uint8)).save(folder / f"{i}.png")
    data = load_images(str(tmp_path), size=(8, 8))
    assert data.X.shape == (8, 64) and data.X.max() <= 1.0
    assert list(data.y) == [0] * 4 + [1] * 4
    (tmp_path / "empty").mkdir()
    with pytest.raises(RecipeError, match="has no images"):
        load_images(str(tmp_path / "empty"))


def test_audio_features_from_generated_clips(tmp_path):
    make_tones(tmp_path, per_class=3, seconds=0.25)
    data = load_audio(str(tmp_path), duration=0.25, n_mels=16)
    assert data.X.shape == (12, 32) and np.isfinite(data.X).all()
    assert sorted(set(data.y)) == [0, 1, 2, 3]
    low, high = data.X[data.y == 1], data.X[data.y == 2]  # high_tone, low_tone
    assert not np.allclose(low.mean(0), high.mean(0)), "the features tell tones apart"


def _recipe(tmp_path, data: str) -> str:
    path = tmp_path / "r.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            name: loaders
            trainable: {{kind: sklearn, estimator: sklearn.linear_model.LogisticRegression}}
            data: {data}
            objective: {{metric: accuracy, mode: max}}
            search: {{space: {{C: {{loguniform: [0.1, 10]}}}}}}
            validation: {{strategy: group_kfold, folds: 3}}
            """
        )
    )
    return str(path)


def test_loader_refusals_come_before_any_trial(tmp_path, capsys):
    csv = tmp_path / "t.csv"
    csv.write_text(CSV)
    table = f"{{loader: 'tunefw_plugins.data.table:load_table', params: {{path: '{csv}'"
    good = _recipe(tmp_path, table + ", target: label, groups: site, features: [a, b]}}")
    assert main(["validate", "--load-data", good]) == 0
    assert main(["validate", "--load-data", _recipe(tmp_path, table + ", target: y}}")]) == 2
    assert "data.params.target:" in capsys.readouterr().err
    empty = tmp_path / "no-images"
    empty.mkdir()
    images = f"{{loader: 'tunefw_plugins.data.images:load_images', params: {{path: '{empty}'}}}}"
    assert main(["validate", "--load-data", _recipe(tmp_path, images)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "has no images" in err[0]
