"""tunefw: hyperparameter tuning from a YAML recipe, on Ray Tune with ASHA, results in Parquet."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tunefw")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

from tunefw.api import open_results, to_pandas, to_polars

__all__ = ["__version__", "open_results", "to_pandas", "to_polars"]
