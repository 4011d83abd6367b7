"""Built-in validation plugins."""
