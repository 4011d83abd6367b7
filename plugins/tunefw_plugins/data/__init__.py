"""Built-in data loaders, named in a recipe as ``data.loader: tunefw_plugins.data.MODULE:FN``."""
