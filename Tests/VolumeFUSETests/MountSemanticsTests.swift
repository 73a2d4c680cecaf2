// What only a mount can show: statfs and the cap, EDQUOT at the write call and EFBIG past the largest file, lookup counts going
// back to zero on forget, subpath containment, coherence between mounts and the files API, and
// a file held open through gc.
import Foundation
import VolumeCore
import VolumeFUSE
import VolumeTestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

final class MountSemanticsTests: MountTestCase {
    func testStatfsShowsTheCapAndUsage() throws {
        let ts = try TestStore(cap: 64 << 20, commitWindow: StoreOptions.mountCommitWindow)
        defer { ts.remove() }
        try ts.volume.writeFile("/ten", data: Data(count: 10 << 20))
        try withMount(ts.volume) { m in
            var s = statvfs()
            XCTAssertEqual(statvfs(m.mountpoint, &s), 0)
            XCTAssertEqual(Int64(s.f_blocks) * Int64(s.f_frsize), 64 << 20)
            XCTAssertEqual(Int64(s.f_bavail) * Int64(s.f_frsize), 54 << 20)
            XCTAssertEqual(s.f_namemax, 255)
            let df = try sh("df -B1 --output=size,used,avail \(q(m.mountpoint)) | tail -1").stdout
            let cols = df.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { Int64($0) }
            XCTAssertEqual(cols, [64 << 20, 10 << 20, 54 << 20], df)
        }
    }

    func testWritePastTheCapFailsWithEDQUOTAndKeepsTheFile() throws {
        let ts = try TestStore(cap: 8 << 20, commitWindow: StoreOptions.mountCommitWindow)
        defer { ts.remove() }
        try withMount(ts.volume) { m in
            let p = m.mountpoint + "/f"
            let fd = try Sys.open(p, O_CREAT | O_WRONLY, 0o644)
            let chunk = [UInt8](repeating: 7, count: 1 << 20)
            for i in 0..<6 { try Sys.write(fd, chunk, at: Int64(i) << 20) }
            try Sys.close(fd)
            let fd2 = try Sys.open(p, O_WRONLY | O_APPEND)
            var failure: Int32 = 0
            for _ in 0..<4 {
                do { try Sys.write(fd2, chunk) } catch let e as PosixError { failure = e.errno; break }
            }
            XCTAssertEqual(failure, EDQUOT, "the write call reports the cap")
            close(fd2)
            let size = try Sys.stat(p).st_size
            XCTAssertGreaterThanOrEqual(size, 6 << 20)
            XCTAssertLessThanOrEqual(size, 8 << 20)
            let fd3 = try Sys.open(p, O_RDONLY)
            XCTAssertEqual(try Sys.read(fd3, count: 1 << 20, at: 5 << 20), chunk, "what was stored is intact")
            close(fd3)
            // A new file cannot grow past the cap either, and deleting frees room.
            try expectErrno(EDQUOT) { try Sys.writeFile(m.mountpoint + "/g", String(repeating: "x", count: 4 << 20)) }
            try Sys.unlink(p)
            try Sys.writeFile(m.mountpoint + "/g", String(repeating: "x", count: 4 << 20))
        }
        assertFsckClean(ts)
    }

    /// A size no volume could hold is EFBIG through the kernel (truncate, ftruncate, fallocate, a
    /// pwrite far out); a size only the cap refuses stays EDQUOT.
    func testSizesPastTheLargestFileAreEFBIGAndPastTheCapEDQUOT() throws {
        let ts = try TestStore(cap: 8 << 20, commitWindow: StoreOptions.mountCommitWindow)
        defer { ts.remove() }
        try withMount(ts.volume) { m in
            let p = m.mountpoint + "/f"
            try Sys.writeFile(p, "data")
            for size in [Int64(999_999_999_999_999), 1 << 51, Volume.maxFileSize + 1] {
                try expectErrno(EFBIG, "truncate to \(size)") { try Sys.truncate(p, size) }
            }
            let fd = try Sys.open(p, O_RDWR)
            defer { close(fd) }
            try expectErrno(EFBIG, "ftruncate") { try Sys.ftruncate(fd, 999_999_999_999_999) }
            try expectErrno(EFBIG, "fallocate") { try Sys.fallocate(fd, mode: 0, offset: 0, length: 999_999_999_999_999) }
            try expectErrno(EFBIG, "fallocate, keeping the size") { try Sys.fallocate(fd, mode: 1, offset: 1 << 51, length: 4096) }
            try expectErrno(EFBIG, "pwrite far out") { try Sys.write(fd, [1], at: 999_999_999_999_999) }
            try expectErrno(EDQUOT, "truncate past the cap") { try Sys.truncate(p, 1 << 40) }
            try expectErrno(EDQUOT, "ftruncate to the largest file") { try Sys.ftruncate(fd, Volume.maxFileSize) }
            try expectErrno(EDQUOT, "fallocate past the cap") { try Sys.fallocate(fd, mode: 0, offset: 0, length: 1 << 40) }
            try expectErrno(EDQUOT, "pwrite past the cap") { try Sys.write(fd, [1], at: 1 << 40) }
            XCTAssertEqual(try Sys.stat(p).st_size, 4, "the file is as it was")
        }
        assertFsckClean(ts)
    }

    func testForgetBringsLookupCountsBackToZero() throws {
        let ts = try TestStore(commitWindow: StoreOptions.mountCommitWindow)
        defer { ts.remove() }
        for i in 0..<200 { try ts.volume.writeFile("/d/f\(i)", data: Data("\(i)".utf8), createParents: true) }
        try withMount(ts.volume) { m in
            for i in 0..<200 { _ = try Sys.stat(m.mountpoint + "/d/f\(i)") }
            let d = try Sys.stat(m.mountpoint + "/d")
            XCTAssertGreaterThan(m.lookupCount(UInt64(d.st_ino)), 0)
            XCTAssertGreaterThanOrEqual(m.kernelNodeCount, 202)
            // Dropping the kernel's dentry and inode caches makes it forget every node it held.
            let deadline = Date().addingTimeInterval(20)
            repeat {
                try "2".write(toFile: "/proc/sys/vm/drop_caches", atomically: false, encoding: .utf8)
                usleep(50_000)
            } while m.kernelNodeCount > 1 && Date() < deadline
            XCTAssertEqual(m.kernelNodeCount, 1, "only the root is left")
            XCTAssertEqual(m.lookupCount(UInt64(d.st_ino)), 0)
            // And the tree is still all there.
            XCTAssertEqual(try Sys.list(m.mountpoint + "/d").count, 200)
        }
    }

    func testSubpathMountCannotReachOutside() throws {
        let ts = try TestStore(commitWindow: StoreOptions.mountCommitWindow)
        defer { ts.remove() }
        let vol = ts.volume
        try vol.writeFile("/secret.txt", data: Data("secret".utf8))
        try vol.writeFile("/jail/inside.txt", data: Data("inside".utf8), createParents: true)
        try vol.makeSymlink("/jail/escape", target: "../secret.txt")
        try vol.makeSymlink("/jail/abs", target: "/secret.txt")
        try withMount(vol, options: MountOptions(subpath: "/jail")) { m in
            XCTAssertEqual(try Sys.list(m.mountpoint).sorted(), ["abs", "escape", "inside.txt"])
            XCTAssertEqual(try Sys.stat(m.mountpoint).st_ino, 1, "the subpath is the root")
            // `..` of the mount root leaves the mount (to the host directory above it), not to the volume.
            let parent = URL(fileURLWithPath: m.mountpoint).deletingLastPathComponent().path
            XCTAssertEqual(try Sys.stat(m.mountpoint + "/..").st_ino, try Sys.stat(parent).st_ino)
            try expectErrno(ENOENT) { _ = try Sys.stat(m.mountpoint + "/../secret.txt") }
            // Symlinks are resolved by the kernel in the host's namespace: they cannot name volume files outside.
            try expectErrno(ENOENT) { _ = try Sys.readFile(m.mountpoint + "/escape") }
            try expectErrno(ENOENT) { _ = try Sys.readFile(m.mountpoint + "/abs") }
            // A directory moved out by another writer is no longer reachable through this mount.
            try Sys.mkdir(m.mountpoint + "/d")
            try Sys.writeFile(m.mountpoint + "/d/x", "x")
            let fd = try Sys.open(m.mountpoint + "/d", O_RDONLY | O_DIRECTORY)
            defer { close(fd) }
            try vol.move("/jail/d", to: "/out")
            m.settle()
            XCTAssertEqual(try Sys.list(m.mountpoint).sorted(), ["abs", "escape", "inside.txt"])
            XCTAssertEqual(openat(fd, "x", O_RDONLY), -1, "a handle on the moved directory cannot look outside")
        }
        XCTAssertEqual(try vol.readFile("/secret.txt"), Data("secret".utf8))
    }

    func testTwoMountsAndTheFilesAPISeeEachOther() throws {
        let ts = try TestStore(commitWindow: StoreOptions.mountCommitWindow)
        defer { ts.remove() }
        let vol = ts.volume
        try withMount(vol) { a in
            try withMount(vol) { b in
                let pa = a.mountpoint, pb = b.mountpoint
                // Close-to-open between the mounts, with page caches kept across opens.
                try Sys.writeFile(pa + "/f", "one")
                b.settle()
                XCTAssertEqual(try Sys.readFile(pb + "/f"), "one")
                try Sys.writeFile(pa + "/f", "two, longer")
                b.settle()
                XCTAssertEqual(try Sys.readFile(pb + "/f"), "two, longer")
                XCTAssertEqual(try Sys.stat(pb + "/f").st_size, 11)
                // Names: rename, unlink and create through one are seen by the other at once.
                try Sys.rename(pb + "/f", pb + "/g")
                a.settle()
                try expectErrno(ENOENT) { _ = try Sys.stat(pa + "/f") }
                XCTAssertEqual(try Sys.readFile(pa + "/g"), "two, longer")
                try Sys.mkdir(pa + "/dir")
                b.settle()
                XCTAssertEqual(try Sys.stat(pb + "/dir").fileType, S_IFDIR)
                // The files API is one more writer.
                try vol.writeFile("/g", data: Data("from the API".utf8))
                a.settle(); b.settle()
                XCTAssertEqual(try Sys.readFile(pa + "/g"), "from the API")
                XCTAssertEqual(try Sys.readFile(pb + "/g"), "from the API")
                try vol.remove("/dir")
                a.settle(); b.settle()
                try expectErrno(ENOENT) { _ = try Sys.stat(pa + "/dir") }
                try expectErrno(ENOENT) { _ = try Sys.stat(pb + "/dir") }
                // An open file unlinked through the other mount stays usable until closed.
                let fd = try Sys.open(pb + "/g", O_RDWR)
                try Sys.unlink(pa + "/g")
                try Sys.write(fd, "still here", at: 0)
                XCTAssertEqual(String(decoding: try Sys.read(fd, count: 10, at: 0), as: UTF8.self), "still here")
                try Sys.close(fd)
                b.settle()
                XCTAssertEqual(try Sys.list(pb), [])
                XCTAssertGreaterThan(b.invalidationsSent, 0)
            }
        }
        assertFsckClean(ts)
    }

    func testBufferedWritesOfOneMountAreCommittedWhenItStops() throws {
        let ts = try TestStore(commitWindow: StoreOptions.mountCommitWindow)
        defer { ts.remove() }
        var fd: Int32 = -1
        try withMount(ts.volume) { m in
            fd = try Sys.open(m.mountpoint + "/f", O_CREAT | O_WRONLY, 0o644)
            try Sys.write(fd, "buffered")
            XCTAssertEqual(m.openHandleCount, 1)
        }
        // The mount was stopped (lazily) while the file was open: its writes were committed.
        XCTAssertEqual(try ts.volume.readFile("/f"), Data("buffered".utf8))
        close(fd)
        assertFsckClean(ts)
    }

    func testAFileKeptOpenLongerThanGCsGracePeriodKeepsItsBlocks() throws {
        let ts = try TestStore(commitWindow: StoreOptions.mountCommitWindow)
        defer { ts.remove() }
        let gcProcess = try ts.anotherProcess()
        defer { try? gcProcess.close() }
        let bs = ts.volume.blockSize
        let blocks = (0..<3).map { _ in (0..<bs).map { _ in UInt8.random(in: 0...255) } }
        try withMount(ts.volume) { m in
            let p = m.mountpoint + "/train.log"
            let fd = try Sys.open(p, O_CREAT | O_WRONLY, 0o644)
            for (i, b) in blocks.enumerated() { try Sys.write(fd, b, at: Int64(i * bs)) }
            // The whole blocks are stored in the background, and referenced only at the close.
            XCTAssertTrue(try eventually { try ts.store.chunks.stats().chunks >= 3 })
            // A gc two hours into the write, past its one-hour grace period, from another process.
            let r = try gcProcess.collectGarbage(grace: 3600, now: Date().addingTimeInterval(7200))
            XCTAssertEqual(r.chunksDeleted, 0)
            XCTAssertEqual(r.chunksInGrace, 3)
            try Sys.close(fd)
            XCTAssertEqual(FileManager.default.contents(atPath: p), Data(blocks.joined()))
        }
        assertFsckClean(ts)
    }
}
