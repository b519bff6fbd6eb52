@testable import FastTrace
import Foundation
import Testing

/// How --output-netns-names picks a name, on a fake /run/netns and /proc where hard links
/// stand for namespace files that share an inode.
@Suite struct NetnsNamesTests {
    @Test func ipNetnsNameThenInitNetThenLowestProcess() throws {
        let root = TestSupport.temporaryDirectory("netns")
        let fm = FileManager.default
        let run = root.appendingPathComponent("run").path, proc = root.appendingPathComponent("proc").path
        try fm.createDirectory(atPath: run, withIntermediateDirectories: true)
        for pid in [1, 5, 7, 9, 12] {
            try fm.createDirectory(atPath: "\(proc)/\(pid)/ns", withIntermediateDirectories: true)
            try "comm of \(pid)\n".write(toFile: "\(proc)/\(pid)/comm", atomically: true, encoding: .utf8)
        }
        func make(_ path: String) throws -> UInt32 {
            #expect(fm.createFile(atPath: path, contents: nil))
            return try #require(InterfaceNames.inode(path))
        }
        let host = try make("\(proc)/1/ns/net")
        let blue = try make("\(proc)/5/ns/net")
        try fm.linkItem(atPath: "\(proc)/5/ns/net", toPath: "\(run)/blue")
        let container = try make("\(proc)/9/ns/net")
        try fm.linkItem(atPath: "\(proc)/9/ns/net", toPath: "\(proc)/12/ns/net")
        try fm.linkItem(atPath: "\(proc)/1/ns/net", toPath: "\(proc)/7/ns/net")
        let names = NetnsNames.scan(runNetns: run, proc: proc)
        #expect(names[host] == "init_net")
        #expect(names[blue] == "blue")
        #expect(names[container] == "comm_of_9[9]", "the lowest PID, one word: \(names)")
        #expect(names.count == 3)
        // A log's names are used as recorded, and nothing else is looked up.
        let offline = NetnsNames(recorded: ["\(blue)": "blue", "junk": "x"])
        #expect(offline.name(blue) == "blue" && offline.name(host) == nil && offline.name(0) == nil)
    }
}
