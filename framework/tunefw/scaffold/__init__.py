"""``tunefw new-plugin``: a plugin package of any kind, ready to install, test and use."""
