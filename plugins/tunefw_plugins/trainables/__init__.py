"""Built-in trainables plugins."""
