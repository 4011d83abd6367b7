"""User code a recipe names (loader, model, function, estimator, weights) fails in one line.

Every failure is a ``RecipeError`` naming the field, shown as one line with exit code 2, and
nothing is written. Each loader case is checked twice: through the loading function itself
and through ``tunefw run``, whose data is loaded before Ray starts (so no test here starts
Ray). ``validate`` may stop loading data, so loader cases do not go through it.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
import ray
import torch

from tunefw.cli.main import main
from tunefw.errors import RecipeError
from tunefw.prepare.data import load_data, share_data
from tunefw.recipe.schema import DataSection
from tunefw_plugins.data.table import load_table
from tunefw_plugins.trainables.torch_models import MLP
from tunefw_plugins.trainables.torch_trainable import load_state, save_state, transfer
from tunefw_plugins.validation.holdout import Holdout

SKLEARN = "{kind: sklearn, estimator: sklearn.linear_model.LogisticRegression}"
IRIS = '{loader: "sklearn.datasets:load_iris"}'


def user_module(tmp_path: Path, source: str) -> str:
    """Write ``source`` as a module of a name no other test uses; return the name."""
    name = f"usercode_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
    return name


def write_recipe(
    tmp_path: Path, data: str, trainable: str = SKLEARN, space: str = "{C: 1.0}"
) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            name: user-code
            trainable: {trainable}
            data: {data}
            objective: {{metric: accuracy, mode: max}}
            search: {{space: {space}}}
            validation: {{strategy: holdout}}
            scheduler: {{type: none}}
            """
        )
        + f"storage: {tmp_path / 'results'}\n"
    )
    return path


def refused(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run the CLI; assert exit 2 and one line of error; return that line."""
    assert main(list(argv)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def run_refused(capsys: pytest.CaptureFixture[str], recipe: Path) -> str:
    """``tunefw run`` refuses the recipe before Ray starts and writes nothing."""
    ray_was_up = ray.is_initialized()  # the session's Ray, if an earlier test started it
    line = refused(capsys, "run", str(recipe))
    assert ray.is_initialized() == ray_was_up, "refused before Ray starts"
    assert not (recipe.parent / "results").exists(), "nothing stored"
    return line


def loader_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loader: str) -> str:
    """The one-line error of loading ``loader`` directly, as prepare_recipe does."""
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(RecipeError) as caught:
        load_data(DataSection(loader=loader))
    message = str(caught.value)
    assert len(message.splitlines()) == 1, message
    return message


LOADERS = {
    "exit0": ("import sys\ndef load():\n    sys.exit(0)\n", "{mod}:load called sys.exit(0)"),
    "exit-text": (
        "import sys\ndef load():\n    sys.exit('bye')\n",
        "{mod}:load called sys.exit('bye')",
    ),
    "exit-on-import": (
        "import sys\nsys.exit(3)\ndef load():\n    pass\n",
        "importing '{mod}' called sys.exit(3)",
    ),
    "raises": (
        "def load():\n    raise RuntimeError('disk on fire\\nsecond line')\n",
        "{mod}:load raised RuntimeError: disk on fire",
    ),
    "raises-on-import": (
        "raise LookupError('no config')\ndef load():\n    pass\n",
        "importing '{mod}' raised LookupError: no config",
    ),
    "no-message": (
        "def load():\n    raise ZeroDivisionError\n",
        "{mod}:load raised ZeroDivisionError",
    ),
}


@pytest.mark.parametrize("case", LOADERS)
def test_a_failing_loader_is_one_line_naming_it(tmp_path, monkeypatch, capsys, case):
    source, expected = LOADERS[case]
    mod = user_module(tmp_path, source)
    message = loader_error(tmp_path, monkeypatch, f"{mod}:load")
    assert message == "data.loader: " + expected.format(mod=mod)
    line = run_refused(capsys, write_recipe(tmp_path, f'{{loader: "{mod}:load"}}'))
    assert line == "error: " + message


@pytest.mark.parametrize(
    ("loader", "kind"), [("math:pi", "float"), ("tunefw.prepare.data:RecipeError.__doc__", "str")]
)
def test_a_loader_that_is_not_callable_is_named(tmp_path, monkeypatch, capsys, loader, kind):
    message = loader_error(tmp_path, monkeypatch, loader)
    assert message == f"data.loader: {loader!r} is a {kind}, not callable"
    assert run_refused(capsys, write_recipe(tmp_path, f'{{loader: "{loader}"}}')).endswith(message)


def test_a_loader_returning_scalars_is_one_line(tmp_path, monkeypatch, capsys):
    mod = user_module(tmp_path, "def load():\n    return 1, 2\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(RecipeError) as caught:
        share_data(DataSection(loader=f"{mod}:load"), Holdout(Holdout.Params()))
    message = str(caught.value)
    assert message.startswith("validation: Input should have at least 1 dimension")
    assert run_refused(capsys, write_recipe(tmp_path, f'{{loader: "{mod}:load"}}')) == (
        "error: " + message
    )


OUT_OF_MEMORY = """
import resource, sys

from tunefw.cli.main import main
from tunefw.prepare.data import load_data, share_data
from tunefw.errors import RecipeError
from tunefw.recipe.schema import DataSection
import tunefw_plugins.trainables.sklearn_estimator  # imported before the limit

def virtual_bytes():
    for line in open("/proc/self/status"):
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024

limit = virtual_bytes() + 1024**3
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
if sys.argv[1] == "direct":
    try:
        load_data(DataSection(loader=sys.argv[2]))
    except RecipeError as exc:
        print(exc, file=sys.stderr)
        sys.exit(2)
else:
    sys.exit(main(sys.argv[1:]))
"""

HUNGRY = {
    "one-block": "def load():\n    return bytearray(64 * 1024**3)\n",
    "chunks": (
        "def load():\n"
        "    chunks = []\n"
        "    while True:\n"
        "        chunks.append(bytearray(64 * 1024**2))\n"
    ),
}


@pytest.mark.parametrize("how", ["direct", "run"])
@pytest.mark.parametrize("hunger", HUNGRY)
def test_a_loader_out_of_memory_is_one_line(tmp_path, how, hunger):
    """Really out of memory: the child's address space is capped at 1 GiB above its start."""
    mod = user_module(tmp_path, HUNGRY[hunger])
    args = [f"{mod}:load"] if how == "direct" else ["run", str(write_recipe(
        tmp_path, f'{{loader: "{mod}:load"}}'))]  # fmt: skip
    child = subprocess.run(
        [sys.executable, "-c", OUT_OF_MEMORY, *(["direct"] if how == "direct" else []), *args],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert child.returncode == 2, child.stderr
    err = child.stderr.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].endswith(f"data.loader: {mod}:load ran out of memory (MemoryError)")
    assert not (tmp_path / "results").exists()


def pretrained_recipe(tmp_path: Path, weights: Path) -> Path:
    return write_recipe(
        tmp_path,
        '{loader: "sklearn.datasets:load_digits"}',
        trainable=f'{{kind: torch, epochs: 1, pretrained: "{weights}"}}',
        space="{lr: 0.01}",
    )


def _garbage(path: Path) -> None:
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x1b[31m" + bytes(range(256)))


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _text(path: Path) -> None:
    path.write_text("hello world\n")


def _plain_pickle(path: Path) -> None:
    path.write_bytes(pickle.dumps({"body.0.weight": [1.0, 2.0]}))


def _a_list(path: Path) -> None:
    torch.save([torch.zeros(2)], path)


def _a_tensor(path: Path) -> None:
    torch.save(torch.zeros(3), path)


def _numbers(path: Path) -> None:
    torch.save({"body.0.weight": 1.0}, path)


def _no_tensors(path: Path) -> None:
    torch.save({}, path)


def _a_module(path: Path) -> None:
    torch.save(MLP(4, 2, hidden=3), path)


BAD_WEIGHTS = {
    "garbage": (_garbage, "not a file torch.save wrote"),
    "empty": (_empty, "the file is empty"),
    "text": (_text, "not a file torch.save wrote"),
    "plain-pickle": (_plain_pickle, "not a file torch.save wrote"),
    "list": (_a_list, "holds a list, not a state dict"),
    "tensor": (_a_tensor, "holds a Tensor, not a state dict"),
    "numbers": (_numbers, "'body.0.weight' is a float, not a tensor"),
    "no-tensors": (_no_tensors, "holds no tensors"),
    "module": (_a_module, "not a file torch.save wrote"),
}


@pytest.mark.parametrize("case", BAD_WEIGHTS)
def test_pretrained_weights_that_are_no_state_dict_are_one_line(tmp_path, capsys, case):
    write, expected = BAD_WEIGHTS[case]
    weights = tmp_path / "weights.pt"
    write(weights)
    with pytest.raises(RecipeError) as caught:
        load_state(str(weights))
    message = str(caught.value)
    assert message.startswith(f"trainable.pretrained: cannot load {weights}: ")
    assert expected in message and len(message.splitlines()) == 1
    assert message.isprintable() and message.isascii(), "no raw bytes"
    line = run_refused(capsys, pretrained_recipe(tmp_path, weights))
    assert line == "error: " + message


def test_a_state_dict_of_other_shapes_is_one_line_naming_pretrained():
    """Checked where the model is built, in the trial: the trainable's check on the driver
    is given no data, so it cannot build the model to compare."""
    with pytest.raises(RecipeError) as caught:
        transfer(MLP(64, 10), MLP(3, 2, hidden=5).state_dict(), freeze=[])
    assert str(caught.value) == (
        "trainable.pretrained: no tensor matches the model by name and shape "
        "(body.0.weight: the model's is [64, 64], the file's [5, 3])"
    )


def test_a_state_dict_that_fits_is_accepted(tmp_path):
    weights = tmp_path / "fits.pt"
    save_state(MLP(64, 10), str(weights))
    assert set(load_state(str(weights))) == set(MLP(64, 10).state_dict())


@pytest.mark.parametrize(
    ("field", "trainable"),
    [
        ("trainable.model", "{kind: torch, model: 'math:pi'}"),
        ("trainable.function", "{kind: function, function: 'math:pi'}"),
    ],
)
def test_a_model_or_function_that_is_not_callable_is_named(tmp_path, capsys, field, trainable):
    recipe = write_recipe(tmp_path, IRIS, trainable=trainable, space="{lr: 0.01}")
    assert run_refused(capsys, recipe) == f"error: {field}: 'math:pi' is a float, not callable"


ESTIMATORS = {
    "exit": ("import sys\nclass Est:\n    def __init__(self):\n        sys.exit(0)\n",
             "{mod}:Est called sys.exit(0)"),
    "raises": ("class Est:\n    def __init__(self):\n        raise ValueError('bad\\nmore')\n",
               "{mod}:Est raised ValueError: bad"),
    "exit-on-import": ("import sys\nsys.exit(0)\nclass Est:\n    pass\n",
                       "importing '{mod}' called sys.exit(0)"),
}  # fmt: skip


@pytest.mark.parametrize("case", ESTIMATORS)
def test_an_estimator_failing_on_the_driver_is_one_line(tmp_path, capsys, case):
    source, expected = ESTIMATORS[case]
    body = source + "    def fit(self): pass\n    def get_params(self, deep=True): return {}\n"
    mod = user_module(tmp_path, body)
    recipe = write_recipe(tmp_path, IRIS, trainable=f"{{kind: sklearn, estimator: '{mod}:Est'}}")
    assert run_refused(capsys, recipe) == "error: trainable.estimator: " + expected.format(mod=mod)


def test_a_function_module_exiting_on_import_is_one_line(tmp_path, capsys):
    mod = user_module(tmp_path, "import sys\nsys.exit(0)\ndef train(config, ctx): pass\n")
    trainable = f"{{kind: function, function: '{mod}:train'}}"
    recipe = write_recipe(tmp_path, IRIS, trainable=trainable, space="{x: 1}")
    line = run_refused(capsys, recipe)
    assert line == f"error: trainable.function: importing '{mod}' called sys.exit(0)"


BINARY = {
    "png.csv": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4,
    "one-line.csv": b"\x00\x01\x02\xff\x1b[31m" * 100,  # pyarrow reads this as one column
    "latin.tsv": "y\tname\n1\tZ\xfcrich\n".encode("latin-1"),
    "garbage.parquet": bytes(range(256)) * 4,
}


@pytest.mark.parametrize("name", BINARY)
def test_a_binary_file_given_to_the_table_loader_is_named_without_its_bytes(tmp_path, capsys, name):
    path = tmp_path / name
    path.write_bytes(BINARY[name])
    with pytest.raises(RecipeError) as caught:
        load_table(str(path), target="y")
    message = str(caught.value)
    assert message.startswith(f"data.params.path: {path}: ")
    assert message.isprintable() and message.isascii(), "no raw bytes"
    table = (
        f"{{loader: tunefw_plugins.data.table:load_table, params: {{path: '{path}', target: y}}}}"
    )
    assert run_refused(capsys, write_recipe(tmp_path, table)) == "error: " + message


def test_a_compressed_csv_is_still_read(tmp_path):
    import gzip

    path = tmp_path / "t.csv.gz"
    path.write_bytes(gzip.compress(b"a,y\n1,0\n2,1\n3,0\n"))
    data = load_table(str(path), target="y")
    assert data.X.shape == (3, 1)
