"""mkdocs hook: adds the generated reference pages (``tunefw.docs_reference``) to every build."""

from __future__ import annotations

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

from tunefw import docs_reference


def on_files(files: Files, config: MkDocsConfig) -> Files:
    for path, content in docs_reference.pages().items():
        files.append(File.generated(config, path, content=content))
    return files
