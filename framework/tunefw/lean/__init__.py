"""Lean mode: several cheap configs evaluated one after another inside each Ray Tune trial.

For trials that take milliseconds, Ray Tune's own per-trial machinery (a trial object, an
actor reset, a registry lookup, its share of the experiment-state snapshots) is the cost.
With ``lean: {configs_per_trial: K}`` a Ray Tune trial is a *pack* of K configs: Ray still
schedules, places, retries and resumes the packs, ASHA still decides per config (its rungs
live in one small actor every pack consults), and every config is stored as a trial of its
own, each of its results once.
"""
