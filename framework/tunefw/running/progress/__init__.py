"""What a run shows while it goes: a live view or log lines (``view``), JSON events
(``events``), both fed by Ray Tune's callback hooks; ``state`` tracks the run, ``render``
draws it."""
