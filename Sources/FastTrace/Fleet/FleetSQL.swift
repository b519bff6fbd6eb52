/// The SQL `fasttrace fleet sql DIR` prints: a view over every host's Parquet files and the
/// questions people ask of a fleet, for DuckDB and for Spark SQL. Each query is preceded by
/// a `-- query: NAME` line, so scripts (and the tests) can pick one.
public enum FleetSQL {
    public enum Engine: String, CaseIterable, Sendable { case duckdb, spark }

    /// Names and one-line descriptions of the example queries, in print order.
    public static let queries: [(name: String, about: String)] = [
        ("drops_by_reason", "drops per host and reason, most first"),
        ("slowest_hops", "the slowest steps between consecutive functions of one packet, per host (p99)"),
        ("flow_divergence", "per flow and host: the last function reached and whether it was dropped, to see where a flow's hosts part"),
        ("host_clocks", "each host's capture window on the wall clock, to check the captures overlap"),
    ]

    /// `dir` is the fleet directory (`host=NAME/` inside); quotes in it are doubled. With
    /// `offsets` (an `offsets.parquet` from `fleet align` is in `dir`), a view `aligned` adds
    /// `aligned_ns`: each event's wall time on the reference host's clock.
    public static func script(directory dir: String, engine: Engine, offsets: Bool = false) -> String {
        let path = dir.hasSuffix("/") ? String(dir.dropLast()) : dir
        let quoted = path.replacingOccurrences(of: "'", with: "''")
        var out: [String] = []
        switch engine {
        case .duckdb:
            out.append("""
            -- fasttrace fleet: DuckDB over \(path) (one directory per host: host=NAME/*.parquet).
            -- Run: duckdb -c ".read fleet.sql" or paste into a duckdb session.
            CREATE OR REPLACE VIEW events AS
              SELECT * FROM read_parquet('\(quoted)/host=*/*.parquet', hive_partitioning = true, union_by_name = true);
            """)
        case .spark:
            out.append("""
            -- fasttrace fleet: Spark SQL over \(path) (one directory per host: host=NAME/*.parquet;
            -- Spark reads host from the directory name). Run: spark-sql -f fleet.sql
            -- Spark has no nanosecond timestamps: wall_ns is read as a number of ns (Spark 3.2.4+).
            SET spark.sql.legacy.parquet.nanosAsLong = true;
            CREATE OR REPLACE TEMPORARY VIEW events
              USING parquet OPTIONS (path '\(quoted)', mergeSchema 'true');
            """)
        }
        if offsets {
            let wall = engine == .duckdb ? "epoch_ns(e.wall_ns)" : "e.wall_ns"
            let source = engine == .duckdb ? "read_parquet('\(quoted)/offsets.parquet')" : "parquet.`\(quoted)/offsets.parquet`"
            out.append("""
            -- offsets.parquet (fasttrace fleet align -o): every event on the reference host's clock.
            CREATE OR REPLACE \(engine == .duckdb ? "VIEW" : "TEMPORARY VIEW") aligned AS
              SELECT e.*, \(wall) - coalesce(o.offset_ns, 0) AS aligned_ns
              FROM events e LEFT JOIN \(source) o ON e.host = o.host;
            """)
        }
        for (name, about) in queries {
            out.append("-- query: \(name): \(about)\n" + query(name, engine: engine) + ";")
        }
        return out.joined(separator: "\n\n") + "\n"
    }

    static func query(_ name: String, engine: Engine) -> String {
        // The two dialects differ in few places: quantiles and arg_max.
        let p99 = engine == .duckdb ? "quantile_cont(gap_ns, 0.99)" : "percentile_approx(gap_ns, 0.99)"
        let argMax = engine == .duckdb ? "arg_max(func, ts_ns)" : "max_by(func, ts_ns)"
        let wallNs = engine == .duckdb ? "epoch_ns(wall_ns)" : "wall_ns"
        switch name {
        case "drops_by_reason":
            return """
            SELECT host, drop_reason, count(*) AS drops
            FROM events WHERE kind = 'drop'
            GROUP BY host, drop_reason
            ORDER BY drops DESC, host, drop_reason
            """
        case "slowest_hops":
            return """
            SELECT host, func AS from_func, next_func AS to_func, count(*) AS packets,
                   \(p99) AS p99_ns, max(gap_ns) AS max_ns
            FROM (
              SELECT host, func,
                     lead(func) OVER (PARTITION BY host, journey ORDER BY ts_ns) AS next_func,
                     lead(ts_ns) OVER (PARTITION BY host, journey ORDER BY ts_ns) - ts_ns AS gap_ns
              FROM events
            ) hops
            WHERE next_func IS NOT NULL
            GROUP BY host, func, next_func
            ORDER BY p99_ns DESC
            LIMIT 20
            """
        case "flow_divergence":
            return """
            SELECT saddr_str, sport, daddr_str, dport, l4_proto, host,
                   count(*) AS events, count(DISTINCT journey) AS packets,
                   \(argMax) AS last_func, sum(CASE WHEN kind = 'drop' THEN 1 ELSE 0 END) AS drops
            FROM events
            WHERE saddr_str IS NOT NULL
            GROUP BY saddr_str, sport, daddr_str, dport, l4_proto, host
            ORDER BY drops DESC, events DESC
            LIMIT 50
            """
        case "host_clocks":
            return """
            SELECT host, min(wall_ns) AS first_event, max(wall_ns) AS last_event,
                   (max(\(wallNs)) - min(\(wallNs))) / 1e9 AS seconds, count(*) AS events
            FROM events
            GROUP BY host
            ORDER BY host
            """
        default:
            return ""
        }
    }
}
