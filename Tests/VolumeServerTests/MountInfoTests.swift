// MountInfo reads the whole mount table, however many mounts there are (reconcile adopts by it).
import Foundation
import XCTest
@testable import VolumeServer

final class MountInfoTests: XCTestCase {
    /// With many mounts, `/proc/self/mountinfo` is longer than one page. Reading it with
    /// `String(contentsOfFile:)` returned only its first page, so mounts past it were "not in the table":
    /// after a `kill -9` of volumed with 40 attachments, reconcile adopted 13 and unmounted and remounted the
    /// other 27 live mounts (tools/bench-attach.sh saw 733 read errors in them). Real tmpfs mounts, as root.
    func testSeesEveryMountPastTheFirstPage() throws {
        guard getuid() == 0 else { throw XCTSkip("mounting tmpfs needs root") }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("mountinfo-\(UUID().uuidString)")
        var mounted: [String] = []
        defer {
            for p in mounted { _ = run("/bin/umount", ["-l", p]) }
            try? FileManager.default.removeItem(at: root)
        }
        for i in 0..<80 {
            let p = root.appendingPathComponent("att-\(String(repeating: "x", count: 20))-\(i)").path
            try FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
            XCTAssertEqual(run("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "bench-tmpfs", p]), 0, "mount \(p)")
            mounted.append(p)
        }
        let table = MountInfo.current()
        let missing = mounted.filter { !table.contains($0) }
        XCTAssertEqual(missing.count, 0, "\(missing.count) of \(mounted.count) mounts missing from MountInfo.current(), first \(missing.first ?? "")")
    }

    private func run(_ tool: String, _ args: [String]) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        do { try p.run() } catch { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }
}
