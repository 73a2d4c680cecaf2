// Failures keep their cause: a chunk file that cannot be read is not a missing chunk, and a full SQLite database is ENOSPC.
import Foundation
import GRDB
import GRDBSQLite
import XCTest
@testable import VolumeCore
import VolumeTestSupport

final class ChunkStoreErrorTests: XCTestCase {
    private let large = Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 29 &+ $0 >> 8) })

    /// A directory where a chunk file should be: reading it fails with EISDIR, which a range read
    /// used to swallow and report as "chunk missing" (EIO).
    func testUnreadableChunkFileIsItsErrorNotMissing() throws {
        let dir = try TemporaryDirectory("chunks")
        defer { dir.remove() }
        let store = try LocalChunkStore(root: dir.url)
        let id = try store.put(large)
        let file = dir.url.appendingPathComponent("chunks/\(id.hex.prefix(2))/\(id.hex)")
        try FileManager.default.removeItem(at: file)
        try FileManager.default.createDirectory(at: file, withIntermediateDirectories: false)
        XCTAssertThrowsError(try store.read(id, offset: 0, count: 4096)) { error in
            XCTAssertEqual((error as? VolumeError)?.errno, EISDIR, "the read's own failure, not 'missing': \(error)")
            if case .corrupt = error as? VolumeError { XCTFail("reported as missing: \(error)") }
        }
        XCTAssertThrowsError(try store.read(id)) { error in
            XCTAssertEqual((error as? VolumeError)?.errno, EISDIR, "\(error)")
        }
    }

    /// A file where a chunk folder should be: looking a chunk up there fails with ENOTDIR instead of
    /// saying the chunk is not stored, and listing the store fails instead of skipping the folder.
    func testUnreachableChunkFolderIsAnErrorNotAnAbsence() throws {
        let dir = try TemporaryDirectory("chunks")
        defer { dir.remove() }
        let store = try LocalChunkStore(root: dir.url)
        let id = try store.put(large)
        let shard = dir.url.appendingPathComponent("chunks/\(id.hex.prefix(2))")
        try FileManager.default.removeItem(at: shard)
        try Data("not a folder".utf8).write(to: shard)
        XCTAssertThrowsError(try store.size(of: id)) { XCTAssertEqual(($0 as? VolumeError)?.errno, ENOTDIR, "\($0)") }
        XCTAssertThrowsError(try store.contains(id)) { XCTAssertEqual(($0 as? VolumeError)?.errno, ENOTDIR, "\($0)") }
        XCTAssertThrowsError(try store.read(id, offset: 0, count: 10)) { XCTAssertEqual(($0 as? VolumeError)?.errno, ENOTDIR, "\($0)") }
        XCTAssertThrowsError(try store.forEach { _ in }) { XCTAssertEqual(($0 as? VolumeError)?.errno, ENOTDIR, "\($0)") }
    }

    /// The small-chunk index at its page limit (as on a full disk): the put fails with ENOSPC.
    func testFullSmallChunkIndexIsENOSPC() throws {
        let dir = try TemporaryDirectory("chunks")
        defer { dir.remove() }
        let store = try LocalChunkStore(root: dir.url)
        try store.small.db.write { db in
            let pages = try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0
            _ = try Row.fetchAll(db, sql: "PRAGMA max_page_count = \(pages + 1)")
        }
        XCTAssertThrowsError(try store.put(batch: (0..<5000).map { Data("small chunk \($0)".utf8) })) { error in
            XCTAssertEqual(VolumeError.of(error).errno, ENOSPC, "\(error)")
        }
    }

    /// The import's raw stepper on a database at its page limit: ENOSPC, as the catalog's own stepper says.
    func testFullDatabaseThroughTheImportStepperIsENOSPC() throws {
        let dir = try TemporaryDirectory("db")
        defer { dir.remove() }
        let queue = try DatabaseQueue(path: dir.url.appendingPathComponent("t.sqlite").path)
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE t (v BLOB NOT NULL)")
            let pages = try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0
            _ = try Row.fetchAll(db, sql: "PRAGMA max_page_count = \(pages + 1)")
        }
        XCTAssertThrowsError(try queue.write { db in
            let insert = try RawStatement(db, "INSERT INTO t (v) VALUES (?)")
            for _ in 0..<100 { try insert.run(db) { Data(repeating: 7, count: 8192).bind($0, 1) } }
        }) { error in
            XCTAssertEqual((error as? VolumeError)?.errno, ENOSPC, "\(error)")
        }
    }
}
