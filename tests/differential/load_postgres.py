"""Load a pipeline's sources into a real PostgreSQL database, one table
per source, with the column types DuckDB reads from the files.

Usage: python load_postgres.py DSN SOURCE=PATH [SOURCE=PATH …]
PATH is a Parquet file, a folder of Parquet files or a pattern of them;
a pattern through `as_of=…` folders (a night's outputs) gets their
`as_of` column.
"""

import os
import sys

import duckdb
import psycopg

TYPES = {
    "VARCHAR": "text",
    "BIGINT": "bigint",
    "INTEGER": "integer",
    "SMALLINT": "smallint",
    "DOUBLE": "double precision",
    "FLOAT": "real",
    "BOOLEAN": "boolean",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "DATE": "date",
}


def files(path):
    if os.path.isdir(path):
        return os.path.join(path, "**", "*.parquet")
    return path


def main():
    dsn, mappings = sys.argv[1], sys.argv[2:]
    reader = duckdb.connect()
    reader.execute("SET TimeZone = 'UTC'")
    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute("SET TIME ZONE 'UTC'")
        for mapping in mappings:
            table, path = mapping.split("=", 1)
            hive = "true" if "as_of=" in path else "false"
            query = f"SELECT * FROM read_parquet('{files(path)}', hive_partitioning = {hive})"
            columns = reader.execute(f"DESCRIBE {query}").fetchall()
            ddl = ", ".join(f'"{name}" {TYPES.get(kind, "text")}' for name, kind, *_ in columns)
            con.execute(f'DROP TABLE IF EXISTS "{table}"')
            con.execute(f'CREATE TABLE "{table}" ({ddl})')
            rows = reader.execute(query).fetchall()
            with con.cursor() as cursor:
                with cursor.copy(f'COPY "{table}" FROM STDIN') as copy:
                    for row in rows:
                        copy.write_row(row)
            print(f"{table}: {len(rows)} rows")


if __name__ == "__main__":
    main()
