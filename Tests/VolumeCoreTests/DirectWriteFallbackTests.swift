// Chunk stores on a file system that refuses O_DIRECT (ramfs, tmpfs before Linux 6.6): large chunks fall back to ordinary writes.
import Foundation
import XCTest
@testable import VolumeCore
import CSupport
import VolumeTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A ramfs mounted on a fresh temporary directory for one test. ramfs refuses O_DIRECT with EINVAL,
/// and only after it has created the file, as tmpfs did before Linux 6.6.
private struct RamfsMount {
    let dir: TemporaryDirectory

    init() throws {
        dir = try TemporaryDirectory("ramfs")
        guard mount("ramfs", dir.path, "ramfs", 0, nil) == 0 else {
            let e = errno
            dir.remove()
            if e == EPERM { throw XCTSkip("mounting a ramfs needs root (errno \(e))") }
            throw VolumeError.io("mount ramfs on \(dir.path)", errno: e)
        }
    }

    func unmount() {
        _ = umount2(dir.path, Int32(MNT_DETACH))
        dir.remove()
    }
}

final class DirectWriteFallbackTests: XCTestCase {
    func testTheMountRefusesODirectAfterCreatingTheFile() throws {
        let ram = try RamfsMount()
        defer { ram.unmount() }
        let path = ram.dir.path + "/probe"
        let fd = csupport_create_direct(path, 0o644)
        let refusal = errno
        if fd >= 0 { close(fd) }
        XCTAssertEqual(fd, -1)
        XCTAssertEqual(refusal, EINVAL)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path), "the premise of the fallback: the refused open left the file")
    }

    func testLocalStorePassesTheSuiteWithoutODirect() throws {
        let ram = try RamfsMount()
        defer { ram.unmount() }
        let clock = TestClock()
        let store = try LocalChunkStore(root: ram.dir.url, smallLimit: 64 * 1024, now: { clock.now })
        try runChunkStoreSuite(store, clock: clock) { id, data in
            try data.write(to: ram.dir.url.appendingPathComponent("chunks/\(id.hex.prefix(2))/\(id.hex)"))
        }
        // Chunks of every alignment after the first refusal, and nothing left in tmp/.
        try checkLargeChunksKeepEveryByte(store, root: ram.dir.url)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: ram.dir.path + "/tmp"), [])
    }

    func testVolumeOnAFileSystemWithoutODirectStoresLargeFiles() throws {
        let ram = try RamfsMount()
        defer { ram.unmount() }
        let store = try VolumeStore(dataDir: ram.dir.url.appendingPathComponent("data"))
        defer { try? store.close() }
        let info = try store.createVolume(owner: "t1", name: "ram")
        let v = try store.volume(info.volumeId, owner: "t1")
        let big = Data((0..<2_500_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 11) })
        try v.writeFile("/big.bin", data: big)
        try v.writeFile("/second.bin", data: big.suffix(1_200_000))
        XCTAssertEqual(try v.readFile("/big.bin"), big)
        XCTAssertEqual(try v.readFile("/second.bin"), big.suffix(1_200_000))
        XCTAssertEqual(try store.fsck().flatMap(\.problems), [])
    }
}
