// The readdir cursor without a kernel: offsets, batches, restarts and seeks back.
import Foundation
@testable import VolumeFUSE
@testable import VolumeCore
import XCTest

final class DirectoryCursorTests: XCTestCase {
    private func entry(_ n: String) -> DirectoryEntry {
        DirectoryEntry(name: Data(n.utf8), attributes: Attributes(ino: 10, kind: .file, mode: 0o644, uid: 0, gid: 0, size: 0,
                                                                nlink: 1, atime: 0, mtime: 0, ctime: 0, rdev: 0))
    }

    /// A directory of `names` listed through `fetch(after:)` in name order, as the core does.
    private func lister(_ names: [String]) -> (Data?) -> [DirectoryEntry] {
        { after in
            let a = after.map { String(decoding: $0, as: UTF8.self) }
            return Array(names.sorted().filter { a == nil || $0 > a! }.prefix(DirectoryCursor.fetchSize)).map(self.entry)
        }
    }

    /// Lists everything the way the kernel does: each request continues after the last offset.
    private func listAll(_ c: DirectoryCursor, limit: Int, fetch: (Data?) -> [DirectoryEntry]) throws -> [(Int64, String)] {
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
