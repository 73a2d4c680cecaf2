// Opening a volume never waits for another process's long write: an import into an empty volume
// holds the catalog's write lock until its end, and a reader must not hang behind it.
import Foundation
import Synchronization
import GRDB
import VolumeTestSupport
import XCTest
@testable import VolumeCore

final class OpenDuringImportTests: XCTestCase {
    /// Another process (another store on the same directory) opens and closes the volume, emptying
    /// its WAL, just before this one starts an import that holds the write lock while its source
    /// streams. A third process then opens the volume and lists it at once, without waiting for the
    /// import (GRDB writes on opening a database whose WAL is empty; that write used to wait here
    /// for the whole import, then fail with "database is locked").
    func testAVolumeOpensWhileAnImportHoldsItsWriteLockAfterAnotherProcessClosedIt() throws {
        let ts = try TestStore()
        defer { ts.remove() }
        let vol = ts.volume
        let catalog = ts.store.catalogPath(ts.volumeID)
        try vol.sync()

        // Another process comes and goes while nobody writes: its close checkpoints the WAL.
        let passer = try ts.anotherProcess()
        XCTAssertEqual(try passer.volume(ts.volumeID, owner: nil).list("/").count, 0)
        try passer.close()
        let walSize = (try FileManager.default.attributesOfItem(atPath: catalog + "-wal")[.size] as? Int) ?? 0
        XCTAssertGreaterThan(walSize, 0, "a close leaves a WAL that the next opener need not write to create")

        // The import: into the empty volume, from a pipe that stays open until we say.
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        let imported = DispatchSemaphore(value: 0)
        let outcome = Mutex<Result<ImportReport, Error>?>(nil)
        let readEnd = fds[0]
        Thread {
            let r = Result { () throws -> ImportReport in
                let source = try StreamFileSource(input: FileByteSource(fd: readEnd, name: "the pipe", owns: true), name: "streamed.bin")
                return try vol.importTree(from: source)
            }
            outcome.withLock { $0 = r }
            imported.signal()
        }.start()
        defer {
            if fds[1] >= 0 { close(fds[1]) }
            imported.wait()
        }
        // Until the import holds the catalog's write lock (a probe that waits for nothing).
        let probe = try DatabaseQueue(path: catalog)
        var held = false
        for _ in 0..<3000 where !held {
            do {
                try probe.inDatabase { db in
                    try db.execute(sql: "PRAGMA busy_timeout = 0")
                    try db.execute(sql: "BEGIN IMMEDIATE")
                    try db.execute(sql: "ROLLBACK")
                }
                usleep(10_000)
            } catch let e as DatabaseError where e.resultCode == .SQLITE_BUSY {
                held = true
            }
        }
        try probe.close()
        XCTAssertTrue(held, "the import never took the write lock")
        _ = Data(repeating: 7, count: 1 << 20).withUnsafeBytes { write(fds[1], $0.baseAddress, $0.count) }

        // A third process opens the volume and reads it mid-import: the import is not visible yet.
        let reader = try ts.anotherProcess()
        defer { try? reader.close() }
        XCTAssertEqual(try reader.volume(ts.volumeID, owner: nil).list("/").count, 0)

        close(fds[1])
        fds[1] = -1
        imported.wait()
        imported.signal()
        let report = try XCTUnwrap(outcome.withLock { $0 }).get()
        XCTAssertEqual(report.files, 1)
        XCTAssertEqual(try vol.attributes(at: "/streamed.bin").size, 1 << 20)
    }
}
