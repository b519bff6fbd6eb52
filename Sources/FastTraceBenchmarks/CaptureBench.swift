import FastTrace
import CShim
import Foundation

/// Capture throughput: the tracer writes a compressed log while the loopback workload runs at
/// rising rates (doubling). Per repeat: the highest event rate delivered to the log with no
/// loss, the loss at the first rate that had some, the consumer thread's CPU use at the
/// highest lossless rate, and the log's bytes per event. When the workload itself cannot go
/// faster before anything is lost, the result is a lower bound and says so.
public enum CaptureBench {
    public struct Result: Codable, Sendable {
        public var backend: String
        public var hooks: Int
        public var maxLosslessEventsPerSecond: BenchStat
        /// Lost / produced at the first rate with loss (0 when none was reached).
        public var lossAboveIt: BenchStat
        /// Consumer thread CPU time / wall time at the highest lossless rate (1 = one core).
        public var consumerCPU: BenchStat
        public var bytesPerEvent: BenchStat
        /// Repeats in which the workload topped out before any loss (the rate is a lower bound).
        public var workloadBoundRepeats: Int
    }

    public static func run(backend: Backend, discovery all: Discovery, drops: DropReasons, repeats: Int,
                           stepSeconds: Double = 0.5, directory: String = NSTemporaryDirectory()) throws -> Result {
        let config = HitBench.config(backend, all, drops)
        let load = LoopbackLoad()
        var best: [Double] = [], lossAbove: [Double] = [], cpu: [Double] = [], bytes: [Double] = []
        var bound = 0, hooks = 0
        for r in 0..<repeats {
            let path = (directory as NSString).appendingPathComponent("fasttrace-bench-\(getpid())-\(r).ftlog")
            defer { unlink(path) }
            let header = LogHeader(kernelRelease: KernelInfo.release, hostname: "bench", cpus: BPFMap.possibleCPUs,
                                   backend: backend.rawValue, filter: nil, arguments: ["bench"], targets: [],
                                   targetAddresses: [], dropReasons: drops, bootToWallNs: LogHeader.currentBootToWall(), startedAt: Date())
            let log = try LogWriter(path: path, header: header)
            let traced = try HitBench.Traced(config, sink: log)
            hooks = traced.tracer.attachedCount
            var rate = 2_000.0 // datagrams per second
            var lossless = 0.0, lossRatio = 0.0, cpuShare = 0.0, topped = false
            var consumerBefore = traced.consumerCPU()
            while true {
                let produced0 = traced.tracer.submitted + traced.tracer.lost
                let lost0 = traced.tracer.lost + log.dropped
                let t0 = benchNow()
                let sent = load.paced(perSecond: rate, seconds: stepSeconds)
                usleep(100_000) // let the consumer drain
                let wall = (benchNow() - t0) / 1e9
                let produced = Double(traced.tracer.submitted + traced.tracer.lost - produced0)
                let lost = Double(traced.tracer.lost + log.dropped - lost0)
                let consumerNow = traced.consumerCPU()
                if lost > 0 {
                    lossRatio = lost / Swift.max(produced, 1)
                    break
                }
                lossless = produced / stepSeconds
                cpuShare = (consumerNow - consumerBefore) / 1e9 / wall
                consumerBefore = consumerNow
                if Double(sent) < rate * stepSeconds * 0.8 { // the workload cannot go faster
                    topped = true
                    break
                }
                rate *= 2
            }
            _ = traced.finish()
            try log.finish(lostPerCPU: traced.tracer.lostPerCPU)
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            if log.written > 0 { bytes.append(Double(size) / Double(log.written)) }
            best.append(lossless)
            lossAbove.append(lossRatio)
            cpu.append(cpuShare)
            if topped { bound += 1 }
        }
        return Result(backend: backend.rawValue, hooks: hooks, maxLosslessEventsPerSecond: BenchStat(best),
                      lossAboveIt: BenchStat(lossAbove), consumerCPU: BenchStat(cpu), bytesPerEvent: BenchStat(bytes),
                      workloadBoundRepeats: bound)
    }
}
