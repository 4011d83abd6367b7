"""Write a plugin package from the templates: ``templates/common`` for every kind, and
``templates/<kind>`` for the plugin class, its test and the recipe lines that use it."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from string import Template

from tunefw import __version__
from tunefw.errors import ScaffoldError
from tunefw.plugin_api import registry
from tunefw.scaffold.names import PluginNames, plugin_names


def _template(folder: str, file: str) -> Template:
    source = files("tunefw.scaffold") / "templates" / folder / f"{file}.tmpl"
    return Template(source.read_text(encoding="utf-8"))


def render(names: PluginNames) -> dict[str, str]:
    """The package's files, by path relative to its folder."""
    values = {
        "name": names.name,
        "kind": names.kind,
        "label": names.label,
        "group": names.group,
        "dist": names.dist,
        "package": names.package,
        "class_name": names.class_name,
        "tunefw_version": __version__,
    }
    values["recipe"] = _template(names.kind, "recipe.yaml").substitute(values).rstrip()
    return {
        "pyproject.toml": _template("common", "pyproject.toml").substitute(values),
        "README.md": _template("common", "README.md").substitute(values),
        f"{names.package}/__init__.py": _template("common", "__init__.py").substitute(values),
        f"{names.package}/plugin.py": _template(names.kind, "plugin.py").substitute(values),
        f"tests/test_{names.name}.py": _template(names.kind, "test.py").substitute(values),
    }


def new_plugin(kind: str, name: str, parent: Path) -> Path:
    """Write plugin ``name`` of ``kind`` as a package in ``parent/tunefw-<name>/``; returns
    that folder. Raises ``ScaffoldError`` for a bad kind or name, a name already installed
    for that kind, or a folder that exists and is not empty."""
    names = plugin_names(kind, name)
    installed = registry.available(names.kind).get(name)
    if installed is not None:
        owner = installed.dist.name if installed.dist else installed.value
        raise ScaffoldError(
            f"{names.label} {name!r} is already installed (by {owner}); choose another name"
        )
    root = parent / names.dist
    if root.exists() and not (root.is_dir() and not any(root.iterdir())):
        raise ScaffoldError(f"{root} already exists and is not an empty folder")
    try:
        for relative, text in render(names).items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ScaffoldError(f"cannot write {exc.filename or root}: {exc.strerror}") from None
    return root
