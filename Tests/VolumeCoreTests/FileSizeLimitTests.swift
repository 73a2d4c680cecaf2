// The largest file a volume can hold: sizes and writes past it are EFBIG on every path; sizes only the cap refuses stay EDQUOT.
import Foundation
import XCTest
@testable import VolumeCore
import VolumeTestSupport

final class FileSizeLimitTests: XCTestCase {
    func testSizesPastTheLargestFileAreEFBIGAndPastTheCapEDQUOT() throws {
        let ts = try TestStore(cap: 1 << 20)
        defer { ts.remove() }
        let v = ts.volume
        try v.writeFile("/f", data: Data("data".utf8))
        let ino = try v.attributes(at: "/f").ino
        let max = Volume.maxFileSize
        XCTAssertLessThan(max, 999_999_999_999_999, "the size a conformance suite tries is past it")

        for size in [999_999_999_999_999, Int64(1) << 51, max + 1, Int64.max] {
            XCTAssertEqual(errnoOf { try v.truncate(ino, to: size, caller: .root) }, EFBIG, "truncate to \(size)")
            XCTAssertEqual(errnoOf { _ = try v.setattr(ino, AttributeChanges(size: size), caller: .root) }, EFBIG, "setattr size \(size)")
        }
        // A write that would end past it, however far out it starts (no overflow at the top of Int64).
        for offset in [999_999_999_999_999, max, Int64.max - 1] {
            XCTAssertEqual(errnoOf { _ = try v.write(ino, offset: offset, data: Data([1, 2]), caller: .root) }, EFBIG, "write at \(offset)")
        }
        // Within it but past the cap: a bigger cap would allow these.
        XCTAssertEqual(errnoOf { try v.truncate(ino, to: max, caller: .root) }, EDQUOT, "truncate to the largest file")
        XCTAssertEqual(errnoOf { try v.truncate(ino, to: 1 << 40, caller: .root) }, EDQUOT, "truncate past the cap")
        XCTAssertEqual(errnoOf { _ = try v.write(ino, offset: max - 2, data: Data([1, 2]), caller: .root) }, EDQUOT, "write ending at the largest file")
        XCTAssertEqual(errnoOf { try v.truncate(ino, to: -1, caller: .root) }, EINVAL, "a negative size")
        XCTAssertEqual(try v.readFile("/f"), Data("data".utf8), "nothing changed")
        XCTAssertEqual(try ts.fsckProblems(), [])
    }

    /// An archive entry that declares a file past the largest one stops the import with EFBIG at its
    /// header (not EDQUOT: no cap would take it), and the volume is as it was.
    func testImportOfAFilePastTheLargestIsEFBIG() throws {
        let ts = try TestStore()
        defer { ts.remove() }
        let tmp = try TemporaryDirectory("huge")
        defer { tmp.remove() }
        let archive = tmp.path + "/huge.tgz"
        _ = try Tools.run("python3", ["-c", """
            import gzip, sys, tarfile
            ti = tarfile.TarInfo('huge.bin'); ti.size = 999999999999999
            open(sys.argv[1], 'wb').write(gzip.compress(ti.tobuf(tarfile.PAX_FORMAT)))
            """, archive])
        XCTAssertThrowsError(try ts.volume.importArchive(from: try FileByteSource(path: archive), into: "/in")) {
            XCTAssertEqual(($0 as? VolumeError)?.errno, EFBIG, "\($0)")
        }
        XCTAssertEqual(try ts.volume.list("/").map(\.name), [])
    }
}
