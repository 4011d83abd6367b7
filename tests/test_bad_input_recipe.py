"""Bad recipe files, ``--set`` values and flags: each is one line naming it, exit 2, nothing
written. Flags are taken verbatim, numbers are finite and never booleans, and YAML is read
without YAML 1.1's surprises (no Ray: only ``validate`` and refused ``run``s)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tunefw.cli.main import main
from tunefw.cli.options import recipe_overrides
from tunefw.recipe.loading import load_recipe
from tunefw.recipe.space import Constant
from tunefw.store.layout import Storage

RECIPE = """\
name: t
trainable: {kind: sklearn, estimator: sklearn.linear_model.LogisticRegression}
data: {loader: "sklearn.datasets:load_iris"}
objective: {metric: accuracy, mode: max}
search:
  num_samples: 2
  space:
    C: {loguniform: [1.0e-2, 1.0e+2]}
validation: {strategy: kfold, folds: 3}
"""


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    return lines[0]


def refused(capsys: pytest.CaptureFixture[str], args: list[str], *expected: str) -> str:
    """Run the CLI with ``args``; assert exit 2 and one error line holding ``expected``."""
    assert main(args) == 2
    line = one_error_line(capsys)
    for text in expected:
        assert text in line
    return line


def validate_args(path: Path, *overrides: str) -> list[str]:
    return ["validate", str(path), *(arg for o in overrides for arg in ("--set", o))]


# Flags are strings, taken verbatim.


@pytest.mark.parametrize("name", ["123", "yes", "1.0", "null", "0x1F", "a.b-c_d"])
def test_name_flag_is_the_exact_string(recipe_file, name):
    recipe = load_recipe(recipe_file(RECIPE), recipe_overrides([], None, name))
    assert recipe.name == name


@pytest.mark.parametrize("storage", ["~", "/x #y", "yes", "null", "s3://bucket/a b"])
def test_storage_flag_is_the_exact_string(recipe_file, storage):
    recipe = load_recipe(recipe_file(RECIPE), recipe_overrides([], storage, None))
    assert recipe.storage == storage


def test_storage_flag_tilde_is_the_home_directory(recipe_file):
    recipe = load_recipe(recipe_file(RECIPE), recipe_overrides([], "~", None))
    assert Storage.open(recipe.storage).root == str(Path.home().resolve())


def test_name_flag_wins_over_set(recipe_file):
    overrides = recipe_overrides(["name=other"], None, "2024")
    assert load_recipe(recipe_file(RECIPE), overrides).name == "2024"


@pytest.mark.parametrize("command", ["run", "submit"])
@pytest.mark.parametrize(
    ("flag", "value"), [("--name", ""), ("--name", "  "), ("--storage", ""), ("--storage", " ")]
)
def test_blank_flag_is_refused(recipe_file, tmp_path, capsys, command, flag, value):
    args = [command, str(recipe_file(RECIPE)), flag, value]
    args += ["--address", "http://127.0.0.1:9"] if command == "submit" else []
    if flag == "--name":
        args += ["--storage", str(tmp_path / "results")]
    line = refused(capsys, args, f"{flag}: must not be empty")
    assert line.count(":") == 2
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("name", ["quickstart #2", "a/b", "../up", "-x", "naïve", "a b"])
def test_name_flag_outside_the_pattern_is_refused(recipe_file, tmp_path, capsys, name):
    storage = tmp_path / "results"
    args = ["run", str(recipe_file(RECIPE)), "--name", name, "--storage", str(storage)]
    refused(capsys, args, "recipe.yaml: name: ")
    assert not storage.exists()


@pytest.mark.parametrize(("written", "name"), [("123", "123"), ("2024", "2024"), ("'007'", "007")])
def test_integer_name_in_the_file_is_its_text(recipe_file, written, name):
    path = recipe_file(RECIPE.replace("name: t", f"name: {written}"))
    assert load_recipe(path).name == name
    assert load_recipe(path, [f"name={written}"]).name == name


@pytest.mark.parametrize("written", ["1.0", "yes", "1e3", "true"])
def test_float_or_boolean_name_in_the_file_is_refused(recipe_file, capsys, written):
    path = recipe_file(RECIPE.replace("name: t", f"name: {written}"))
    refused(capsys, validate_args(path), "recipe.yaml: name: ", "quote it")


# Numbers: finite, within int64, seeds within 32 bits, never booleans.


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("search.seed=-1", "search.seed: must be between 0 and 4294967295"),
        ("search.seed=4294967296", "search.seed: must be between 0 and 4294967295"),
        ("search.seed=100000000000000000000", "search.seed: must be between 0 and 4294967295"),
        ("validation={strategy: kfold, folds: 3, seed: -1}", "validation.seed: must be between"),
        ("validation={strategy: holdout, seed: 4294967296}", "validation.seed: must be between"),
        ("validation={strategy: repeated_kfold, seed: -7}", "validation.seed: must be between"),
        ("validation={strategy: nested, seed: -1}", "validation.seed: must be between"),
    ],
)
def test_seed_outside_32_bits_is_refused(recipe_file, capsys, override, expected):
    refused(capsys, validate_args(recipe_file(RECIPE), override), expected)


def test_largest_seed_is_accepted(recipe_file):
    assert load_recipe(recipe_file(RECIPE), ["search.seed=4294967295"]).search.seed == 2**32 - 1


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("search.space.C={uniform: [0, .inf]}", "search.space.C.uniform[1]"),
        ("search.space.C={uniform: [-.inf, 0]}", "search.space.C.uniform[0]"),
        ("search.space.C={loguniform: [.nan, 1]}", "search.space.C.loguniform[0]"),
        ("search.space.C={uniform: [0, 1], step: .nan}", "search.space.C.uniform.step"),
        ("search.space.C={choice: [1, .nan]}", "search.space.C.choice[1]"),
        ("search.space.C=.inf", "search.space.C"),
        ("regularization=[{name: l2, range: [1e-4, .inf]}]", "regularization[0].range[1]"),
        ("regularization=[{name: l1, range: [.nan, 1]}]", "regularization[0].range[0]"),
        ("regularization=[{name: elastic_net, l1_ratio: [.nan, 0.5]}]", "l1_ratio[0]"),
        ("resources.cpu=.inf", "resources.cpu"),
        ("resources.cpu=.nan", "resources.cpu"),
        ("resources.gpu=.inf", "resources.gpu"),
        ("resources.custom={tpu: .inf}", "resources.custom.tpu"),
        ("budget.wall_time_s=.inf", "budget.wall_time_s"),
        ("scheduler.reduction_factor=.inf", "scheduler.reduction_factor"),
    ],
)
def test_infinite_or_nan_number_is_refused(recipe_file, capsys, override, field):
    refused(capsys, validate_args(recipe_file(RECIPE), override), f"{field}: ", "finite")


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("search.space.n={int: [0, 100000000000000000000000]}", "search.space.n.int[1]"),
        ("search.space.n={int: [-10000000000000000000, 0]}", "search.space.n.int[0]"),
        ("search.space.n={logint: [1, 9223372036854775808]}", "search.space.n.logint[1]"),
        ("search.space.n={choice: [1, 100000000000000000000]}", "search.space.n.choice[1]"),
    ],
)
def test_integer_beyond_int64_is_refused(recipe_file, capsys, override, field):
    refused(capsys, validate_args(recipe_file(RECIPE), override), f"{field}: ", "64 bits")


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("search.num_samples=yes", "search.num_samples"),
        ("search.max_concurrent=on", "search.max_concurrent"),
        ("search.seed=true", "search.seed"),
        ("search.space.C={uniform: [0, yes]}", "search.space.C.uniform[1]"),
        ("search.space.n={int: [false, 10]}", "search.space.n.int[0]"),
        ("scheduler.max_t=yes", "scheduler.max_t"),
        ("failure.max_retries=no", "failure.max_retries"),
        ("resources.cpu=yes", "resources.cpu"),
        ("resources.memory=yes", "resources.memory"),
        ("validation={strategy: kfold, folds: yes}", "validation.folds"),
    ],
)
def test_boolean_where_a_number_goes_is_refused(recipe_file, capsys, override, field):
    refused(capsys, validate_args(recipe_file(RECIPE), override), f"{field}: ", "boolean")


@pytest.mark.parametrize(
    "constraint",
    [
        '["accuracy >= nan"]',
        '["accuracy >= NaN"]',
        '["accuracy <= .nan"]',
        '["accuracy <= inf"]',
        "[{metric: accuracy, op: '>=', bound: .nan}]",
    ],
)
def test_constraint_bound_that_is_not_finite_is_refused(recipe_file, capsys, constraint):
    override = f"objective.constraints={constraint}"
    refused(capsys, validate_args(recipe_file(RECIPE), override), "objective.constraints[0]")


def test_a_list_where_a_scalar_goes_is_one_line(recipe_file, capsys):
    override = "search.space.C={choice: [[1, 2], 3]}"
    refused(capsys, validate_args(recipe_file(RECIPE), override), "search.space.C.choice[0]: ")


# YAML: 1.2 numbers, no duplicate keys, no aliases, bounded nesting, text only.


def test_floats_and_ints_are_read_as_yaml_1_2(recipe_file):
    written = ["C: {loguniform: [1e-4, 1E+2]}", "tol: 1e-4", "big: 2e3", "dec: 010",
               "hex: 0x1F", "clock: 1:30", "day: 2024-01-31"]  # fmt: skip
    text = RECIPE.replace("C: {loguniform: [1.0e-2, 1.0e+2]}", "\n    ".join(written))
    space = load_recipe(recipe_file(text), ["search.space.eps=1e-3"]).search.space
    assert space["C"].bounds == (1e-4, 100.0)
    values = {k: v.value for k, v in space.items() if isinstance(v, Constant)}
    assert values == {
        "tol": 1e-4,
        "big": 2000.0,
        "dec": 10,
        "hex": 31,
        "clock": "1:30",
        "day": "2024-01-31",
        "eps": 1e-3,
    }
    assert isinstance(values["tol"], float)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (RECIPE + "search: {num_samples: 3}\n", "recipe.yaml: duplicate key 'search' at line 10"),
        (RECIPE.replace("folds: 3}", "folds: 3, folds: 4}"), "duplicate key 'folds' at line 9"),
        (RECIPE.replace("num_samples: 2\n", "num_samples: 2\n  num_samples: 9\n"),
         "duplicate key 'num_samples' at line 7"),
        ("name: a\nname: b\n", "recipe.yaml: duplicate key 'name' at line 2"),
    ],
)  # fmt: skip
def test_duplicate_key_is_refused_with_its_line(recipe_file, capsys, text, expected):
    refused(capsys, validate_args(recipe_file(text)), expected)


@pytest.mark.parametrize(
    "override",
    [
        "search.params={b",
        "search.space=[1, 2",
        "description='unclosed",
        "trainable.params={C: 1, C: 2}",
        "description=@reserved",
    ],
)
def test_set_value_that_is_not_yaml_is_refused(recipe_file, capsys, override):
    refused(capsys, validate_args(recipe_file(RECIPE), override), f"--set {override!r}: ")


@pytest.mark.parametrize(
    "content",
    [
        bytes(range(256)),
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR",
        "name: t".encode("utf-16-le"),
        b"a: \x07",
    ],
    ids=["all-bytes", "png", "utf-16", "bell"],
)
def test_a_binary_file_is_not_a_text_file(recipe_file, tmp_path, capsys, content):
    path = tmp_path / "recipe.yaml"
    path.write_bytes(content)
    refused(capsys, validate_args(path), f"{path}: not a text file")


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000,
        "{a: " * 100_000,
        "".join("  " * depth + "a:\n" for depth in range(500)),
        "name: t\ndescription: " + "[" * 150 + "]" * 150,
    ],
    ids=["flow-lists", "flow-maps", "block-maps", "balanced"],
)
def test_deep_nesting_is_one_line(recipe_file, capsys, text):
    refused(capsys, validate_args(recipe_file(text)), "recipe.yaml: nested deeper than 100 levels")


def test_deep_nesting_in_a_set_value_is_one_line(recipe_file, capsys):
    override = "search.params=" + "[" * 10_000
    refused(capsys, validate_args(recipe_file(RECIPE), override), "nested deeper than 100 levels")


def _laughs(levels: int) -> str:
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (RECIPE + _laughs(9), 11),
        (RECIPE.replace("num_samples: 2", "num_samples: &n 2\n  max_concurrent: *n"), 7),
        ("base: &base {strategy: kfold}\nvalidation:\n  <<: *base\n", 3),
    ],
    ids=["billion-laughs", "shared-number", "merge-key"],
)
def test_aliases_are_refused_without_expanding(recipe_file, capsys, text, line):
    start = time.perf_counter()
    refused(capsys, validate_args(recipe_file(text)), "recipe.yaml: alias *", f"at line {line}")
    assert time.perf_counter() - start < 5


@pytest.mark.parametrize("text", ["- a\n- b\n", "just text\n", "", "42\n"])
def test_a_recipe_that_is_not_a_mapping_is_refused(recipe_file, capsys, text):
    refused(
        capsys, validate_args(recipe_file(text)), "recipe.yaml: a recipe must be a YAML mapping"
    )
