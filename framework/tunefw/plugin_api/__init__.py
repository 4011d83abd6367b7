"""What a plugin sees: the protocols of each kind, the ``TrialContext`` a trial gets, the
optional capabilities, the value types (``TorchTarget``, ``BilevelProblem``), and the
registry that finds plugins by entry point and builds them from a recipe."""
