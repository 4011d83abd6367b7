"""The Parquet result store: tunefw's system of record for every reported result."""
