// The readdir cursor without a kernel: offsets, batches, restarts and seeks back.
import Foundation
@testable import VolumeFUSE
@testable import VolumeCore
import XCTest

final class DirectoryCursorTests: XCTestCase {
    /// An entry; without `full` attributes only the inode number and kind are set (as the core's
    /// plain listing does).
    private func entry(_ n: String, full: Bool = true) -> DirectoryEntry {
        DirectoryEntry(name: Data(n.utf8), attributes: Attributes(ino: 10, kind: .file, mode: full ? 0o644 : 0, uid: 0, gid: 0, size: 0,
                                                                nlink: full ? 1 : 0, atime: 0, mtime: 0, ctime: 0, rdev: 0))
    }

    /// A directory of `names` listed through `fetch(after:full:)` in name order, as the core does.
    private func lister(_ names: [String]) -> (Data?, Bool) -> [DirectoryEntry] {
        { after, full in
            let a = after.map { String(decoding: $0, as: UTF8.self) }
            return Array(names.sorted().filter { a == nil || $0 > a! }.prefix(DirectoryCursor.fetchSize)).map { self.entry($0, full: full) }
        }
    }

    /// Lists everything the way the kernel does: each request continues after the last offset.
    private func listAll(_ c: DirectoryCursor, limit: Int, fetch: (Data?, Bool) -> [DirectoryEntry]) throws -> [(Int64, String)] {
        var out: [(Int64, String)] = []
        var off: Int64 = 2
        while true {
            let got = try c.entries(after: off, limit: limit, fetch: fetch)
            if got.isEmpty { return out }
            for (o, e) in got { out.append((o, e.nameString)) }
            off = got.last!.0
        }
    }

    func testListsEveryNameOnceInOrderAcrossBatches() throws {
        let names = (0..<2500).map { String(format: "n%05d", $0) }
        let c = DirectoryCursor()
        let got = try listAll(c, limit: 37, fetch: lister(names))
        XCTAssertEqual(got.map(\.1), names)
        XCTAssertEqual(Set(got.map(\.0)).count, names.count, "offsets are distinct")
        XCTAssertEqual(got.map(\.0), got.map(\.0).sorted(), "offsets increase")
    }

    func testEmptyDirectoryAndRestart() throws {
        let c = DirectoryCursor()
        XCTAssertEqual(try c.entries(after: 0, limit: 10, fetch: lister([])).count, 0)
        XCTAssertEqual(try c.entries(after: 2, limit: 10, fetch: lister([])).count, 0)
        let d = DirectoryCursor()
        let first = try listAll(d, limit: 5, fetch: lister(["a", "b", "c"]))
        XCTAssertEqual(first.map(\.1), ["a", "b", "c"])
        // rewinddir: from the start again, new offsets, same names.
        let again = try listAll(d, limit: 2, fetch: lister(["a", "b", "c"]))
        XCTAssertEqual(again.map(\.1), ["a", "b", "c"])
    }

    func testAPlusRequestAfterPlainOnesGetsEveryAttributeAndTheSameNames() throws {
        let names = (0..<300).map { String(format: "p%04d", $0) }
        let c = DirectoryCursor()
        let plain = try c.entries(after: 2, limit: 100, full: false, fetch: lister(names))
        XCTAssertEqual(plain.map(\.1.nameString), Array(names[0..<100]))
        XCTAssertTrue(plain.allSatisfy { $0.1.attributes.mode == 0 }, "a plain listing reads kinds only")
        let plus = try c.entries(after: plain.last!.0, limit: 100, full: true, fetch: lister(names))
        XCTAssertEqual(plus.map(\.1.nameString), Array(names[100..<200]), "continues after the last plain entry")
        XCTAssertTrue(plus.allSatisfy { $0.1.attributes.mode == 0o644 }, "readdirplus entries carry attributes")
        let rest = try c.entries(after: plus.last!.0, limit: 1000, full: false, fetch: lister(names))
        XCTAssertEqual(rest.map(\.1.nameString), Array(names[200...]))
    }

    func testSeekBackToAnOffsetHandedOut() throws {
        let names = (0..<50).map { "f\($0 + 100)" }
        let c = DirectoryCursor()
        let all = try listAll(c, limit: 7, fetch: lister(names))
        let mid = all[20]
        let rest = try c.entries(after: mid.0, limit: 100, fetch: lister(names))
        XCTAssertEqual(rest.map(\.1.nameString), Array(names.sorted()[21...]))
        XCTAssertThrowsError(try c.entries(after: 999_999, limit: 5, fetch: lister(names)))
    }

    func testNamesAddedOrRemovedMidListingDoNotShiftWhatFollows() throws {
        var names = (0..<3000).map { String(format: "n%05d", $0) }
        let c = DirectoryCursor()
        var off: Int64 = 2
        var seen: [String] = []
        while true {
            let got = try c.entries(after: off, limit: 100, fetch: lister(names))
            if got.isEmpty { break }
            seen += got.map(\.1.nameString)
            off = got.last!.0
            // Between requests another writer removes a name already listed and adds one after.
            if seen.count == 1500 {
                names.removeAll { $0 == "n00010" }
                names.append("n02999z")
            }
        }
        XCTAssertEqual(Set(seen).count, seen.count, "no name twice")
        XCTAssertTrue(Set(names.filter { $0 < "n01024" }).isSubset(of: Set(seen)))
    }
}
