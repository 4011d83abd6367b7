"""Built-in regularization plugins."""
