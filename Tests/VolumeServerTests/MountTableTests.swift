// The mount table is read whole, however many mounts there are (reconcile adopts by it, in the host's namespace and in a sandbox's).
import Foundation
import VolumeCore
import VolumeFUSE
import XCTest
@testable import VolumeServer

final class MountTableTests: XCTestCase {
    /// With many mounts, `/proc/self/mountinfo` is longer than one page; `String(contentsOfFile:)` returned only
    /// its first page, so mounts past it were "not in the table": after a `kill -9` of volumed with 40
    /// attachments, reconcile adopted 13 and remounted the other 27 live mounts (tools/bench-attach.sh saw 733
    /// read errors in them). Real tmpfs mounts, as root; every reader of the table must see all of them.
    func testEveryReaderSeesEveryMountPastTheFirstPage() throws {
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
            XCTAssertEqual(run("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "mounttable-tmpfs", p]), 0, "mount \(p)")
            mounted.append(p)
        }
        let fuseTable = Set(MountTable.entries().map(\.mountpoint))
        XCTAssertEqual(mounted.filter { !fuseTable.contains($0) }, [], "missing from MountTable.entries()")
        XCTAssertEqual(mounted.filter { MountTable.entry(at: $0) == nil }, [], "missing from MountTable.entry(at:)")
        let byPid = Set(try XCTUnwrap(MountTable.entries(ofProcess: getpid())).map(\.mountpoint))
        XCTAssertEqual(mounted.filter { !byPid.contains($0) }, [], "missing from MountTable.entries(ofProcess:)")
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
