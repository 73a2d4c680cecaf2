// The change journal: one row per changed path, from inode-level and path-level writes, in another process's view too; trimming.
import Foundation
import XCTest
import VolumeCore
import VolumeTestSupport

final class ChangeJournalTests: XCTestCase {
    func shape(_ es: [JournalEvent]) -> [String] {
        es.map { [$0.type.name, $0.path, $0.fromPath ?? ""].joined(separator: " ").trimmingCharacters(in: .whitespaces) }
    }

    /// Each kind of change records its row, with the path it happened at; ids only grow.
    func testEveryChangeRecordsOneRowPerPath() throws {
        let ts = try TestStore()
        defer { ts.remove() }
        let v = ts.volume
        let start = try v.journalWindow().latest
        // Inode level (what a mount calls).
        let d = try v.create(parent: 1, name: Data("d".utf8), kind: .directory, mode: 0o755, caller: .root)
        let f = try v.create(parent: d.ino, name: Data("f".utf8), kind: .file, mode: 0o644, caller: .root)
        try v.openCreated(f)
        _ = try v.write(f.ino, offset: 0, data: Data("hello".utf8), caller: .root)
        try v.release(f.ino, caller: .root)
        try v.rename(parent: d.ino, name: Data("f".utf8), newParent: 1, newName: Data("g".utf8), caller: .root)
        _ = try v.setattr(f.ino, AttributeChanges(mode: 0o600), caller: .root)
        try v.unlink(parent: 1, name: Data("g".utf8), caller: .root)
        try v.rmdir(parent: 1, name: Data("d".utf8), caller: .root)
        // Path level (what the files API and the CLI call).
        try v.makeDirectory("/p/q", parents: true)
        try v.writeFile("/p/q/x.txt", data: Data("x".utf8))
        try v.writeFile("/p/q/x.txt", data: Data("y".utf8))
        try v.move("/p/q/x.txt", to: "/p/y.txt")
        try v.remove("/p", recursive: true)
        let events = try v.journalEvents(after: start)
        XCTAssertEqual(shape(events), [
            "create /d", "create /d/f", "modify /d/f", "rename /g /d/f", "modify /g", "delete /g", "delete /d",
            "create /p", "create /p/q", "create /p/q/x.txt", "modify /p/q/x.txt", "rename /p/y.txt /p/q/x.txt", "delete /p",
        ])
        XCTAssertEqual(events.map(\.seq), events.map(\.seq).sorted())
        XCTAssertEqual(Set(events.map(\.seq)).count, events.count)

        // Another process (a second store on the same data directory) reads the same rows.
        let other = try ts.anotherProcess()
        XCTAssertEqual(try other.volume(ts.volumeID, owner: nil).journalEvents(after: start), events)
        try other.close()
    }

    /// Trimming keeps the newest rows; sequence numbers are never given out again.
    func testTrimmingKeepsTheNewestAndNeverReusesNumbers() throws {
        let ts = try TestStore()
        defer { ts.remove() }
        let v = ts.volume
        for i in 0..<10 { try v.writeFile("/f\(i)", data: Data()) }
        let before = try v.journalWindow()
        XCTAssertEqual(try v.trimJournal(keepEvents: 3), 7)
        let w = try v.journalWindow()
        XCTAssertEqual(w.latest, before.latest)
        XCTAssertEqual(w.oldest, before.latest - 2)
        XCTAssertEqual(try v.trimJournal(keepEvents: 3), 0, "nothing more is due")
        XCTAssertEqual(try v.trimJournal(keepEvents: 100, keepSeconds: 0), 3, "all are older than 0 s")
        try v.writeFile("/again", data: Data())
        XCTAssertEqual(try v.journalEvents(after: 0).map(\.seq), [before.latest + 1])
    }
}
