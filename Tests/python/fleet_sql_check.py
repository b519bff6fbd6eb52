"""Runs the SQL `fasttrace fleet sql` printed in DuckDB, statement by statement, and prints
each named query's result as JSON lines: {"query": NAME, "rows": [[...], ...]}.

usage: fleet_sql_check.py FLEET.sql
"""
import json
import sys

import duckdb

con = duckdb.connect()
name = None
for statement in open(sys.argv[1]).read().split(";\n"):
    lines = [l for l in statement.strip().splitlines()]
    for l in lines:
        if l.startswith("-- query: "):
            name = l[len("-- query: "):].split(":")[0]
    if not any(l.strip() and not l.startswith("--") for l in lines):
        continue
    rows = con.execute(statement).fetchall()
    if name:
        print(json.dumps({"query": name, "rows": rows}, default=str))
        name = None
