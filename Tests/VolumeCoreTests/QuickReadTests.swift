// Reads without a snapshot (`read(_:offset:count:snapshot: false)`, the HTTP GET's): same bytes, and a damaged block row is an error, not a crash.
import Foundation
import GRDB
import XCTest
import VolumeTestSupport
@testable import VolumeCore

final class QuickReadTests: XCTestCase {
    /// Both ways of reading return the file's bytes, whole and from an offset across blocks.
    func testQuickAndSnapshotReadsReturnTheSameBytes() throws {
        let t = try TestStore()
        defer { t.remove() }
        let data = Data((0..<(3 * t.volume.blockSize + 123)).map { UInt8(truncatingIfNeeded: $0 &* 13) })
        try t.volume.writeFile("/f", data: data)
        let ino = try t.volume.attributes(at: "/f").ino
        for snapshot in [true, false] {
            XCTAssertEqual(try t.volume.read(ino, offset: 0, count: data.count, snapshot: snapshot), data)
            let from = t.volume.blockSize - 7
            XCTAssertEqual(try t.volume.read(ino, offset: Int64(from), count: 5000, snapshot: snapshot), data[from..<(from + 5000)])
        }
    }

    /// A block row whose chunk ID is not 32 bytes (the schema's CHECK bypassed, as a damaged file could)
    /// makes both reads fail with `corrupt`, naming fsck; it used to stop the process.
    func testABlockRowNamingNoValidChunkIsReportedAsCorrupt() throws {
        let t = try TestStore()
        defer { t.remove() }
        try t.volume.writeFile("/f", data: Data(repeating: 7, count: 5000))
        let ino = try t.volume.attributes(at: "/f").ino
        let q = try DatabaseQueue(path: t.store.catalogPath(t.volumeID))
        try q.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA ignore_check_constraints = 1")
            try db.execute(sql: "UPDATE block SET chunk = x'0102' WHERE ino = ?", arguments: [Int64(ino)])
        }
        try q.close()
        for snapshot in [true, false] {
            XCTAssertThrowsError(try t.volume.read(ino, offset: 0, count: 5000, snapshot: snapshot)) { e in
                guard case .corrupt(let text)? = e as? VolumeError else { return XCTFail("\(e)") }
                XCTAssertTrue(text.contains("fsck"), text)
            }
        }
    }
}
