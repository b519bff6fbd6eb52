"""Checks a `fasttrace export --format parquet` file against `fasttrace read --output-json`
of the same log, value for value, with two independent readers (pyarrow and DuckDB), and
its journey column against `fasttrace journeys --output-json`.

usage: parquet_check.py FILE.parquet READ.jsonl JOURNEYS.jsonl HOST [MIN_EVENTS]
Prints one line of facts; exits 1 with the first differences on a mismatch.
"""
import ipaddress
import json
import sys

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

FLAGS = ["FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"]
COLUMNS = ["host", "ts_ns", "wall_ns", "skb", "func", "func_kind", "kind", "drop_reason", "verdict", "cpu", "pid",
           "tgid", "process", "netns", "mark", "ifindex", "iface", "protocol", "mtu", "len", "saddr", "daddr",
           "saddr_str", "daddr_str", "sport", "dport", "l4_proto", "tcp_flags", "ip_id", "seq", "ack",
           "inner_saddr_str", "inner_daddr_str", "inner_sport", "inner_dport", "inner_l4_proto",
           "packet_link", "packet_wire_len", "packet"]
TYPES = {  # what each reader must see: the schema is part of the contract (docs/fleet.md)
    "ts_ns": (pa.int64(), "BIGINT"), "wall_ns": (pa.timestamp("ns", tz="UTC"), "TIMESTAMPTZ_NS"),
    "skb": (pa.uint64(), "UBIGINT"), "cpu": (pa.uint32(), "UINTEGER"), "netns": (pa.uint32(), "UINTEGER"),
    "sport": (pa.uint16(), "USMALLINT"), "tcp_flags": (pa.uint8(), "UTINYINT"), "seq": (pa.uint32(), "UINTEGER"),
    "saddr": (pa.binary(16), "BLOB"), "packet": (pa.binary(), "BLOB"), "func": (pa.string(), "VARCHAR"),
    "journey": (pa.int64(), "BIGINT"),
}


def flag_bits(text):
    return 0 if text == "-" else sum(1 << FLAGS.index(f) for f in text.split("|"))


def mapped(text):
    a = ipaddress.ip_address(text)
    return (b"\0" * 10 + b"\xff\xff" + a.packed) if a.version == 4 else a.packed


def expected(j, host, boot_to_wall):
    kind = "drop" if "drop_reason" in j else "prog_exit" if "verdict" in j else \
        "prog" if j["func_kind"] == "bpf_program" else "func"
    t, inner, p = j.get("tuple"), j.get("inner"), j.get("packet")
    return {
        "host": host, "ts_ns": j["time_ns"], "wall_ns": j["time_ns"] + boot_to_wall, "skb": int(j["skb"], 16),
        "func": j["func"], "func_kind": j["func_kind"], "kind": kind, "drop_reason": j.get("drop_reason"),
        "verdict": j.get("verdict"), "cpu": j["cpu"], "pid": j["pid"], "tgid": j["tgid"], "process": j["process"],
        "netns": j["netns"], "mark": j["mark"], "ifindex": j["ifindex"], "iface": j["iface"] or None,
        "protocol": j["protocol"], "mtu": j["mtu"], "len": j["len"],
        "saddr": t and mapped(t["saddr"]), "daddr": t and mapped(t["daddr"]),
        "saddr_str": t and t["saddr"], "daddr_str": t and t["daddr"], "sport": t and t["sport"],
        "dport": t and t["dport"], "l4_proto": t and t["l4_proto"], "tcp_flags": t and flag_bits(t["tcp_flags"]),
        "ip_id": t and t.get("ip_id"), "seq": t and t.get("seq"), "ack": t and t.get("ack"),
        "inner_saddr_str": inner and inner["saddr"], "inner_daddr_str": inner and inner["daddr"],
        "inner_sport": inner and inner["sport"], "inner_dport": inner and inner["dport"],
        "inner_l4_proto": inner and inner["l4_proto"],
        "packet_link": p and p["link"], "packet_wire_len": p and p["wire_len"], "packet": p and bytes.fromhex(p["hex"]),
    }


def key(row):
    return (row["ts_ns"], row["skb"], row["cpu"], row["func"])


def compare(name, got_rows, want_rows):
    got = sorted(got_rows, key=key)
    want = sorted(want_rows, key=key)
    if len(got) != len(want):
        fail(f"{name}: {len(got)} rows, JSON has {len(want)}")
    bad = []
    for g, w in zip(got, want):
        for c in COLUMNS:
            if g[c] != w[c]:
                bad.append(f"{name}: {c} = {g[c]!r}, JSON says {w[c]!r} (event {key(w)})")
        if len(bad) >= 5:
            break
    if bad:
        fail("\n".join(bad))


def fail(text):
    print(text, file=sys.stderr)
    sys.exit(1)


def main():
    path, read_jsonl, journeys_jsonl, host = sys.argv[1:5]
    minimum = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    with open(read_jsonl) as f:
        events = [json.loads(line) for line in f if line.strip()]
    if len(events) < minimum:
        fail(f"only {len(events)} events in the capture; the test needs {minimum}")

    meta = pq.ParquetFile(path).metadata
    kv = {k.decode(): v.decode() for k, v in meta.metadata.items()}
    boot_to_wall = int(kv["fasttrace.boot_to_wall_ns"])
    want = [expected(j, host, boot_to_wall) for j in events]

    # pyarrow: types, then values (timestamps as their integer nanoseconds).
    table = pq.read_table(path)
    for c, (arrow_type, _) in TYPES.items():
        if table.schema.field(c).type != arrow_type:
            fail(f"pyarrow: {c} is {table.schema.field(c).type}, expected {arrow_type}")
    table = table.set_column(table.schema.get_field_index("wall_ns"), "wall_ns", table["wall_ns"].cast(pa.int64()))
    rows = table.to_pylist()
    compare("pyarrow", rows, want)

    # DuckDB: its own Parquet reader, not Arrow's.
    con = duckdb.connect()
    types = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet('{path}'))").fetchall())
    for c, (_, duck_type) in TYPES.items():
        if types[c] != duck_type:
            fail(f"duckdb: {c} is {types[c]}, expected {duck_type}")
    cols = ", ".join("epoch_ns(wall_ns) AS wall_ns" if c == "wall_ns" else c for c in COLUMNS + ["journey"])
    cur = con.execute(f"SELECT {cols} FROM read_parquet('{path}')")
    names = [d[0] for d in cur.description]
    duck = [dict(zip(names, r)) for r in cur.fetchall()]
    for r in duck:
        for c in ("saddr", "daddr", "packet"):
            if r[c] is not None:
                r[c] = bytes(r[c])
    compare("duckdb", duck, want)

    # Journeys: the events `fasttrace journeys` groups together share one id, and no two
    # journeys share one.
    journey_of = {}
    for r in rows:
        journey_of.setdefault((r["skb"], r["ts_ns"], r["func"]), set()).add(r["journey"])
    seen = {}
    with open(journeys_jsonl) as f:
        count = 0
        for line in f:
            j = json.loads(line)
            count += 1
            ids = set()
            for e in j["events"]:
                ids |= journey_of.get((int(e["skb"], 16), e["time_ns"], e["func"]), {None})
            if len(ids) != 1 or None in ids:
                fail(f"journey of skb {j['skb']} at {j['events'][0]['time_ns']}: Parquet ids {sorted(map(str, ids))}")
            (jid,) = ids
            if jid in seen:
                fail(f"journey id {jid} is given to two journeys")
            seen[jid] = j["skb"]
    tcp = sum(1 for r in rows if r["seq"] is not None)
    print(f"parquet ok: {len(rows)} events, {count} journeys, {meta.num_row_groups} row groups, "
          f"{tcp} with TCP seq/ack, {sum(1 for r in rows if r['packet'] is not None)} with bytes, "
          f"{sum(1 for r in rows if r['inner_saddr_str'] is not None)} with an inner tuple")


main()
