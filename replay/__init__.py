"""The trace archive and replay for investigations (issue 12): every ping as received and every
engine event in day-partitioned Parquet (``replay.layout``), written atomically
(``replay.writer``), queried with DuckDB (``replay.queries``), re-run through the engine."""
