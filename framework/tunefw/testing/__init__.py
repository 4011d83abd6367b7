"""Helpers for testing tunefw plugins, built-in or third-party."""
