"""mkdocs hook: adds the generated reference pages (``reference_pages``, beside this file) to
every build, and the capabilities table to docs/plugins.md (where it says
``<!-- capabilities -->``)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

sys.path.insert(0, str(Path(__file__).parent))  # mkdocs loads a hook by path, not as a package
docs_reference = importlib.import_module("reference_pages")


def on_files(files: Files, config: MkDocsConfig) -> Files:
    for path, content in docs_reference.pages().items():
        files.append(File.generated(config, path, content=content))
    return files


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    if page.file.src_uri == "plugins.md":
        return markdown.replace(CAPABILITIES, docs_reference.capabilities_table())
    return markdown


CAPABILITIES = "<!-- capabilities -->"
