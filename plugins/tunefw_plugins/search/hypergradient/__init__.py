"""Gradient-based hyperparameter search: hypergradients by implicit differentiation."""
