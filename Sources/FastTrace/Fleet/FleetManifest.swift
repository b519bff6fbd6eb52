/// The Kubernetes DaemonSet `fasttrace fleet manifest` prints: one capture per node, named
/// after the node, written to a hostPath directory, with a startup probe on --ready-file
/// (docs/fleet.md explains each choice).
public struct FleetManifest: Sendable {
    public var name = "fasttrace"
    public var namespace = "kube-system"
    public var image = "fasttrace:latest"
    /// Where the captures go on each node (hostPath), as NODE.ftlog.
    public var outputDirectory = "/var/lib/fasttrace"
    /// `privileged: true` instead of the capability list (kernels or runtimes where the
    /// capabilities are not enough, e.g. before CAP_BPF/CAP_PERFMON, Linux 5.8).
    public var privileged = false
    /// fasttrace's arguments after the fixed ones (-w, --host-name, --ready-file): a filter,
    /// --backend, --snaplen, ...
    public var arguments: [String] = []

    public init() {}

    /// What each capability is for (docs/fleet.md has the table per backend).
    public static let capabilities = [
        "BPF",          // load programs, create maps (all backends)
        "PERFMON",      // kprobes, tracepoints and tp_btf attach through perf events and BTF tracing
        "SYS_ADMIN",    // module BTF and program queries by id, network namespace names (setns), tc/XDP tracing
        "SYS_RESOURCE", // raise RLIMIT_NOFILE (a descriptor per attached function) and RLIMIT_MEMLOCK before 5.11
        "SYSLOG",       // kernel addresses in /proc/kallsyms (discovery, --output-caller, stacks)
    ]

    public var yaml: String {
        let args = ["-w", "\(outputDirectory)/$(NODE_NAME).ftlog", "--force", "--host-name", "$(NODE_NAME)",
                    "--ready-file", "/run/fasttrace-ready"] + arguments
        let security = privileged
            ? "            privileged: true"
            : "            capabilities:\n              add: [\(Self.capabilities.joined(separator: ", "))]"
        return """
        # fasttrace on every node: `fasttrace fleet manifest`, docs/fleet.md.
        # Collect: kubectl -n \(namespace) cp POD:\(outputDirectory)/NODE.ftlog ./NODE.ftlog (one per pod),
        # then: fasttrace export NODE.ftlog --format parquet --fleet-dir fleet/
        apiVersion: apps/v1
        kind: DaemonSet
        metadata:
          name: \(name)
          namespace: \(namespace)
          labels:
            app.kubernetes.io/name: \(name)
        spec:
          selector:
            matchLabels:
              app.kubernetes.io/name: \(name)
          template:
            metadata:
              labels:
                app.kubernetes.io/name: \(name)
            spec:
              hostPID: true
              tolerations:
                - operator: Exists
              terminationGracePeriodSeconds: 60
              containers:
                - name: fasttrace
                  image: \(yamlString(image))
                  args: [\(args.map(yamlString).joined(separator: ", "))]
                  env:
                    - name: NODE_NAME
                      valueFrom:
                        fieldRef:
                          fieldPath: spec.nodeName
                  securityContext:
        \(security)
                  startupProbe:
                    exec:
                      command: ["test", "-e", "/run/fasttrace-ready"]
                    periodSeconds: 1
                    failureThreshold: 300
                  volumeMounts:
                    - name: btf
                      mountPath: /sys/kernel/btf
                      readOnly: true
                    - name: tracefs
                      mountPath: /sys/kernel/tracing
                    - name: captures
                      mountPath: \(yamlString(outputDirectory))
              volumes:
                - name: btf
                  hostPath:
                    path: /sys/kernel/btf
                - name: tracefs
                  hostPath:
                    path: /sys/kernel/tracing
                - name: captures
                  hostPath:
                    path: \(yamlString(outputDirectory))
                    type: DirectoryOrCreate

        """
    }

    /// A double-quoted YAML scalar (JSON string escapes are valid YAML).
    func yamlString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 || u.value == 0x7f { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}
