"""``tunefw resume`` from the store: the Parquet rows, not Ray's snapshots, say what is done."""
