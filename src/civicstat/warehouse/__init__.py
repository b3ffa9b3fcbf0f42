"""The warehouse: raw landing zone and curated tables as immutable, versioned Parquet files.

Why files and not one DuckDB database: DuckDB lets one process at a time hold a database
file for writing, and then no other process may read it. CivicStat runs the web server,
workers and CLI commands at the same time, so each curated table version is a set of
Parquet files written once, and a version becomes visible when the metadata store records
it as the dataset's head in one transaction. Every process reads the files with its own
in-process DuckDB (or Spark, Trino... at scale). Old versions stay readable, which is what
"as reported" numbers need.
"""
