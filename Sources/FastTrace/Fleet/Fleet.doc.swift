/// Fleet: many hosts' captures as one dataset (docs/fleet.md). fasttrace does not aggregate;
/// it writes each host's capture as Parquet in a hive layout (`DIR/host=NAME/*.parquet`) and
/// prints what the engines users already run need: SQL for DuckDB and Spark (`FleetSQL`)
/// and a DaemonSet that captures on every node (`FleetManifest`).
enum FleetDoc {}
