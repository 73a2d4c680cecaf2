// fsck --repair must not report problems it could not fix as repaired: a corrupt chunk stays a problem.
import Foundation
import XCTest
import VolumeTestSupport
@testable import VolumeCore

final class FsckRepairTests: XCTestCase {
    /// The path of a chunk stored as a file by the local chunk store (chunks over 64 KiB).
    private func chunkFile(_ t: TestStore, _ data: Data) -> String {
        let hex = ChunkID.of(data).hex
        return t.dir.url.appendingPathComponent("chunks/chunks/\(hex.prefix(2))/\(hex)").path
    }

    private func corrupt(_ path: String) throws {
        let h = try XCTUnwrap(FileHandle(forUpdatingAtPath: path))
        try h.seek(toOffset: 10)
        h.write(Data("XXXX".utf8))
        try h.close()
    }

    func testRepairKeepsACorruptChunkAsAProblem() throws {
        let t = try TestStore()
        defer { t.remove() }
        let data = Data((0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        try t.volume.writeFile("/big", data: data)
        try corrupt(chunkFile(t, data))

        let report = try t.store.fsck(t.volumeID, repair: true)[0]
        XCTAssertFalse(report.ok, "a corrupt chunk cannot be repaired, so fsck --repair must not say ok")
        XCTAssertTrue(report.problems.contains { $0.contains("fails verification") }, "\(report.problems)")
    }

    func testRepairOfOneProblemDoesNotHideAnother() throws {
        let t = try TestStore()
        defer { t.remove() }
        let a = Data((0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 3) })
        let b = Data((0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 5) })
        try t.volume.writeFile("/a", data: a)
        try t.volume.writeFile("/b", data: b)
        try FileManager.default.removeItem(atPath: chunkFile(t, a))   // fixable: becomes a hole
        try corrupt(chunkFile(t, b))                                    // not fixable

        let report = try t.store.fsck(t.volumeID, repair: true)[0]
        XCTAssertEqual(report.repaired.count, 1, "\(report.repaired)")
        XCTAssertFalse(report.ok, "one repair and one remaining problem is not ok: \(report.problems)")
        XCTAssertEqual(report.problems.count, 1)

        // A full repair is ok.
        let t2 = try TestStore()
        defer { t2.remove() }
        try t2.volume.writeFile("/a", data: a)
        try FileManager.default.removeItem(atPath: chunkFile(t2, a))
        let fixed = try t2.store.fsck(t2.volumeID, repair: true)[0]
        XCTAssertTrue(fixed.ok, "\(fixed.problems)")
        XCTAssertEqual(try t2.store.fsck(t2.volumeID)[0].problems, [])
    }
}
