// Export of everything a volume can hold — symlinks, hard links, FIFOs, sockets, long and non-UTF-8 names,
// large owners, fractional and pre-1970 mtimes, holes — read back by GNU tar and Python's tarfile.
import Foundation
import XCTest
@testable import VolumeCore
import VolumeTestSupport

#if canImport(Glibc)
import Glibc
#endif

final class ArchiveExportTests: XCTestCase {
    func testExportIsReadBackIdenticallyByGNUTarAndTarfile() throws {
        let tmp = try TemporaryDirectory("export")
        defer { tmp.remove() }
        let ts = try TestStore(blockSize: 128 * 1024)
        defer { ts.remove() }
        let v = ts.volume
        let root = Caller.root
        func set(_ path: String, mode: UInt32, mtime: Nanos, uid: UInt32 = 0) throws {
            let a = try v.attributes(at: path)
            _ = try v.setattr(a.ino, AttributeChanges(mode: mode, uid: uid, mtime: .at(mtime)), caller: root)
        }
        let longDir = "/" + String(repeating: "d", count: 120) + "/" + String(repeating: "e", count: 120)
        let longName = String(repeating: "n", count: 230) + ".txt"
        let longTarget = String(repeating: "t", count: 150)
        try v.writeFile("/dir/file.txt", data: Data("hello\n".utf8), createParents: true)
        try v.writeFile("/dir/big.bin", data: Data((0..<400_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }))
        try v.writeFile(longDir + "/" + longName, data: Data("long\n".utf8), createParents: true)
        try v.writeFile("/old.txt", data: Data("1969\n".utf8))
        try v.writeFile("/owned.txt", data: Data("owner\n".utf8))
        // A sparse file: 1 MiB of hole, 5 bytes, a hole to 3 MiB.
        try v.writeFile("/sparse.bin", data: Data())
        let sparse = try v.attributes(at: "/sparse.bin").ino
        try v.write(sparse, offset: 1 << 20, data: Data("holes".utf8), caller: root)
        try v.truncate(sparse, to: 3 << 20, caller: root)
        let dir = try v.attributes(at: "/dir").ino
        _ = try v.link(try v.attributes(at: "/dir/file.txt").ino, newParent: dir, newName: Data("hard.txt".utf8), caller: root)
        try v.makeSymlink("/dir/sym", target: "file.txt")
        try v.makeSymlink("/dir/longsym", target: longTarget)
        _ = try v.create(parent: dir, name: Data("fifo".utf8), kind: .fifo, mode: 0o600, caller: root)
        _ = try v.create(parent: dir, name: Data("sock".utf8), kind: .socket, mode: 0o600, caller: root)
        let odd = try v.create(parent: dir, name: Data([0x62, 0x61, 0x64, 0xff]), kind: .file, mode: 0o644, caller: root)
        try v.write(odd.ino, offset: 0, data: Data("not utf-8 name\n".utf8), caller: root)
        try set("/dir/file.txt", mode: 0o640, mtime: 1_700_000_000_123_456_789)
        try set("/dir/big.bin", mode: 0o755, mtime: 1_700_000_001_000_000_000)
        try set("/old.txt", mode: 0o600, mtime: -1_500_000_000)
        try set("/owned.txt", mode: 0o644, mtime: 1_600_000_000_500_000_000, uid: 3_000_000)
        try set("/dir", mode: 0o750, mtime: 1_650_000_000_250_000_000)

        let out = tmp.path + "/export.tgz"
        let fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let report = try v.exportArchive("/", to: FileByteSink(fd: fd, name: out))
        close(fd)
        XCTAssertEqual(report.hardLinks, 1)
        XCTAssertEqual(report.symlinks, 2)
        XCTAssertEqual(report.skipped, ["dir/sock"])

        // What tarfile reads.
        let listed = Dictionary(try Tools.list(out).map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(listed["dir/file.txt"]?.mtime_ns, 1_700_000_000_123_456_789)
        XCTAssertEqual(listed["dir/file.txt"]?.mode, 0o640)
        XCTAssertEqual(listed["dir/hard.txt"]?.type, "link")
        XCTAssertEqual(listed["dir/hard.txt"]?.target, "dir/file.txt")
        XCTAssertEqual(listed["dir/sym"]?.type, "symlink")
        XCTAssertEqual(listed["dir/sym"]?.target, "file.txt")
        XCTAssertEqual(listed["dir/longsym"]?.target, longTarget)
        XCTAssertEqual(listed["dir/fifo"]?.type, "other")
        XCTAssertEqual(listed["old.txt"]?.mtime_ns, -1_500_000_000)
        XCTAssertEqual(listed["owned.txt"]?.uid, 3_000_000)
        XCTAssertEqual(listed["owned.txt"]?.mtime_ns, 1_600_000_000_500_000_000)
        XCTAssertEqual(listed[String(longDir.dropFirst()) + "/" + longName]?.size, 5)
        XCTAssertEqual(listed["dir"]?.mode, 0o750)
        XCTAssertEqual(listed["dir"]?.mtime_ns, 1_650_000_000_250_000_000)
        XCTAssertEqual(listed["sparse.bin"]?.size, 3 << 20)
        var sparseContent = Data(count: 3 << 20)
        sparseContent.replaceSubrange((1 << 20)..<((1 << 20) + 5), with: Data("holes".utf8))
        XCTAssertEqual(listed["sparse.bin"]?.sha256, ChunkID.of(sparseContent).hex)
        XCTAssertEqual(listed["dir/big.bin"]?.sha256, ChunkID.of(try v.readFile("/dir/big.bin")).hex)

        // What GNU tar extracts.
        let x = tmp.path + "/x"
        try FileManager.default.createDirectory(atPath: x, withIntermediateDirectories: true)
        try Tools.run("tar", ["-xzf", out, "-C", x])
        let walked = Dictionary(try Tools.walk(x).map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(walked["dir/file.txt"]?.nlink, 2, "the hard link is a hard link again")
        XCTAssertEqual(walked["dir/hard.txt"]?.sha256, listed["dir/file.txt"]?.sha256)
        XCTAssertEqual(walked["dir/sym"]?.type, "symlink")
        XCTAssertEqual(walked["dir/sym"]?.target, "file.txt")
        XCTAssertEqual(walked["dir/fifo"]?.type, "other")
        XCTAssertEqual(walked["dir/file.txt"]?.mtime_ns, 1_700_000_000_123_456_789)
        XCTAssertEqual(walked["old.txt"]?.mtime_ns, -1_500_000_000)
        XCTAssertEqual(walked["owned.txt"]?.uid, 3_000_000)
        XCTAssertEqual(walked["dir"]?.mtime_ns, 1_650_000_000_250_000_000)
        XCTAssertEqual(walked["dir"]?.mode, 0o750)
        XCTAssertEqual(walked["sparse.bin"]?.sha256, listed["sparse.bin"]?.sha256)
        XCTAssertEqual(walked[String(longDir.dropFirst()) + "/" + longName]?.sha256, listed[String(longDir.dropFirst()) + "/" + longName]?.sha256)
        let raw = try Tools.run("python3", ["-c", "import os,sys; print(open(os.path.join(sys.argv[1].encode(), b'dir/bad\\xff'), 'rb').read().decode())", x])
        XCTAssertEqual(raw.out, "not utf-8 name\n\n")

        // A directory exports on its own, names relative to it; a file as its own name.
        let sub = tmp.path + "/sub.tgz"
        let fd2 = open(sub, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        _ = try v.exportArchive("/dir", to: FileByteSink(fd: fd2, name: sub))
        close(fd2)
        XCTAssertEqual(Set(try Tools.list(sub).map(\.name)), ["file.txt", "big.bin", "hard.txt", "sym", "longsym", "fifo", "bad\\xff"])
        XCTAssertEqual(listed["dir/bad\\xff"]?.size, 15)
        XCTAssertEqual(try ts.fsckProblems(), [])
    }
}
