// volumectl mount/unmount, run as the built binary: detach and readiness, unmount, SIGTERM with
// buffered writes, a stale mountpoint left by a killed server, and coherence across processes.
import Foundation
import VolumeCore
import VolumeFUSE
import VolumeTestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

final class MountCommandTests: MountTestCase {
    private struct Fixture {
        let ts: TestStore
        let mnt: TemporaryDirectory
        let cli: String
        /// The command line of `volumectl SUBCOMMAND --data-dir DIR ARGS`.
        func cmd(_ sub: String, _ args: String) -> String { "\(q(cli)) \(sub) --data-dir \(q(ts.dir.path)) \(args)" }
    }

    private func withFixture(_ body: (Fixture) throws -> Void) throws {
        try requireFUSE()
        let ts = try TestStore(commitWindow: StoreOptions.mountCommitWindow)
        let mnt = try TemporaryDirectory("mnt")
        registerMountpoint(mnt.path)
        defer {
            if MountTable.entry(at: mnt.path) != nil { MountTable.unmount(mnt.path, lazy: true) }
            mnt.remove()
            ts.remove()
        }
        try body(Fixture(ts: ts, mnt: mnt, cli: try volumectl()))
    }

    private func pid(fromJSON text: String) throws -> pid_t {
        let obj = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String]
        return pid_t(obj?["pid"] ?? "") ?? 0
    }

    func testDetachedMountUnmountAndCoherenceAcrossProcesses() throws {
        try withFixture { f in
            try f.ts.volume.writeFile("/seed.txt", data: Data("seed".utf8))
            let out = try sh(f.cmd("mount", "--json \(f.ts.volumeID) \(q(f.mnt.path))"))
            let server = try pid(fromJSON: out.stdout)
            XCTAssertGreaterThan(server, 0)
            XCTAssertEqual(MountTable.entry(at: f.mnt.path)?.fsType, "fuse.volume")
            XCTAssertEqual(try String(contentsOfFile: f.mnt.path + "/seed.txt", encoding: .utf8), "seed")

            // Mounting again on a live mount is refused.
            let again = try sh(f.cmd("mount", "\(f.ts.volumeID) \(q(f.mnt.path))"), check: false)
            XCTAssertEqual(again.status, 4, again.stderr)
            XCTAssertTrue(again.stderr.contains("already a mount point"), again.stderr)

            // This process writes through the files API; the server (another process) sees it.
            try f.ts.volume.writeFile("/seed.txt", data: Data("changed by the API".utf8))
            try f.ts.volume.writeFile("/new.txt", data: Data("new".utf8))
            try eventually("the other process's change to show in the mount") {
                try String(contentsOfFile: f.mnt.path + "/seed.txt", encoding: .utf8) == "changed by the API"
                    && FileManager.default.fileExists(atPath: f.mnt.path + "/new.txt")
            }
            // The server's writes are visible here after close.
            try Data("from the mount".utf8).write(to: URL(fileURLWithPath: f.mnt.path + "/m.txt"))
            XCTAssertEqual(try f.ts.volume.readFile("/m.txt"), Data("from the mount".utf8))

            try sh(f.cmd("unmount", "\(q(f.mnt.path))"))
            XCTAssertNil(MountTable.entry(at: f.mnt.path))
            try eventually("the server to exit") { kill(server, 0) != 0 }
            let notMounted = try sh(f.cmd("unmount", "\(q(f.mnt.path))"), check: false)
            XCTAssertEqual(notMounted.status, 3)
            assertFsckClean(f.ts)
        }
    }

    func testSigtermCommitsBufferedWritesAndUnmounts() throws {
        try withFixture { f in
            let out = try sh(f.cmd("mount", "--json \(f.ts.volumeID) \(q(f.mnt.path))"))
            let server = try pid(fromJSON: out.stdout)
            let fd = open(f.mnt.path + "/open.txt", O_CREAT | O_WRONLY, 0o644)
            XCTAssertGreaterThanOrEqual(fd, 0)
            let payload = Array("written, never closed".utf8)
            XCTAssertEqual(write(fd, payload, payload.count), payload.count)
            kill(server, SIGTERM)
            try eventually("the server to exit") { kill(server, 0) != 0 }
            close(fd)
            XCTAssertNil(MountTable.entry(at: f.mnt.path))
            XCTAssertEqual(try f.ts.volume.readFile("/open.txt"), Data(payload))
            assertFsckClean(f.ts)
        }
    }

    /// After a mount over the mountpoint of a killed server (`mountOutput`: its JSON): the file
    /// written before the kill is there; the new server unmounts and exits, and fsck is clean.
    private func checkRemounted(_ f: Fixture, _ mountOutput: String) throws {
        let second = try pid(fromJSON: mountOutput)
        XCTAssertEqual(try String(contentsOfFile: f.mnt.path + "/a.txt", encoding: .utf8), "durable")
        try sh(f.cmd("unmount", "\(q(f.mnt.path))"))
        try eventually("the second server to exit") { kill(second, 0) != 0 }
        XCTAssertNil(MountTable.entry(at: f.mnt.path))
        assertFsckClean(f.ts)
    }

    func testStaleMountpointOfAKilledServerIsCleanedBeforeRemounting() throws {
        try withFixture { f in
            let out = try sh(f.cmd("mount", "--json --no-auto-unmount \(f.ts.volumeID) \(q(f.mnt.path))"))
            let server = try pid(fromJSON: out.stdout)
            try Data("durable".utf8).write(to: URL(fileURLWithPath: f.mnt.path + "/a.txt"))
            kill(server, SIGKILL)
            try eventually("the server to die") { kill(server, 0) != 0 }
            XCTAssertNotNil(MountTable.entry(at: f.mnt.path))
            XCTAssertTrue(MountTable.isStale(f.mnt.path))
            // Mounting again detects the dead mount and detaches it first.
            let again = try sh(f.cmd("mount", "--json \(f.ts.volumeID) \(q(f.mnt.path))"))
            try checkRemounted(f, again.stdout)
        }
    }

    /// The kernel answers `stat` of a mount's root from its attribute cache (30 s here) even after
    /// the server died, so a check by stat took a dead mount for a live one ("already a mount
    /// point") until the cache expired. A re-mount right after the kill must clean it at once.
    func testADeadMountWhoseRootTheKernelCachedIsCleanedAtOnce() throws {
        try withFixture { f in
            let out = try sh(f.cmd("mount", "--json --no-auto-unmount --cache-timeout 30 \(f.ts.volumeID) \(q(f.mnt.path))"))
            let server = try pid(fromJSON: out.stdout)
            try Data("durable".utf8).write(to: URL(fileURLWithPath: f.mnt.path + "/a.txt"))
            // Fill the kernel's caches for the root and the file while the server lives.
            var st = stat()
            XCTAssertEqual(stat(f.mnt.path, &st), 0)
            XCTAssertEqual(stat(f.mnt.path + "/a.txt", &st), 0)
            // No writer is left (the file above is closed): kill the server.
            kill(server, SIGKILL)
            try eventually("the server to die") { kill(server, 0) != 0 }
            XCTAssertEqual(stat(f.mnt.path, &st), 0, "the kernel still answers stat from its cache")
            XCTAssertTrue(MountTable.isStale(f.mnt.path))
            let again = try sh(f.cmd("mount", "--json \(f.ts.volumeID) \(q(f.mnt.path))"), check: false)
            XCTAssertEqual(again.status, 0, again.stderr)
            guard again.status == 0 else { return }
            try checkRemounted(f, again.stdout)
        }
    }

    /// What a sandbox sees when the files API (this process) removes or replaces a file it holds
    /// open through its mount (the server, another process): the handle keeps the file's bytes,
    /// reads and writes, until it closes; then the file is gone and its space is free again.
    func testAFileAnotherProcessRemovesStaysUsableThroughAnOpenHandle() throws {
        try withFixture { f in
            let payload = (0..<2_500_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 11) }
            try f.ts.volume.writeFile("/data.bin", data: Data(payload))
            try f.ts.volume.writeFile("/conf", data: Data("version 1".utf8))
            let out = try sh(f.cmd("mount", "--json \(f.ts.volumeID) \(q(f.mnt.path))"))
            let server = try pid(fromJSON: out.stdout)
            let data = try Sys.open(f.mnt.path + "/data.bin", O_RDWR)
            let conf = try Sys.open(f.mnt.path + "/conf", O_RDONLY)

            try f.ts.volume.remove("/data.bin")
            try f.ts.volume.writeFile("/conf.new", data: Data("version 2".utf8))
            try f.ts.volume.move("/conf.new", to: "/conf", overwrite: true)
            try eventually("the removal to show in the mount") { !FileManager.default.fileExists(atPath: f.mnt.path + "/data.bin") }
            XCTAssertEqual(try Sys.read(data, count: payload.count + 10, at: 0), payload)
            try Sys.write(data, "patched", at: 100)
            try Sys.fsync(data)
            XCTAssertEqual(try Sys.read(data, count: 7, at: 100), Array("patched".utf8))
            XCTAssertEqual(try Sys.read(conf, count: 100, at: 0), Array("version 1".utf8))
            try eventually("the new file to show in the mount") { try Sys.readFile(f.mnt.path + "/conf") == "version 2" }

            try Sys.close(data)
            try Sys.close(conf)
            try eventually("the closed orphans to be deleted") { try f.ts.volume.statfs().usedBytes == 9 }
            try sh(f.cmd("unmount", "\(q(f.mnt.path))"))
            try eventually("the server to exit") { kill(server, 0) != 0 }
            assertFsckClean(f.ts)
        }
    }

    /// A file held open by a server that is killed (kill -9) is deleted by the next process that
    /// opens the volume: the kernel dropped the server's marks with it.
    func testAnOrphanOfAKilledServerIsDeletedByTheNextProcess() throws {
        try withFixture { f in
            try f.ts.volume.writeFile("/held", data: Data(repeating: 7, count: 100_000))
            let out = try sh(f.cmd("mount", "--json --no-auto-unmount \(f.ts.volumeID) \(q(f.mnt.path))"))
            let server = try pid(fromJSON: out.stdout)
            let fd = try Sys.open(f.mnt.path + "/held", O_RDONLY)
            try f.ts.volume.remove("/held")
            XCTAssertEqual(try f.ts.volume.statfs().usedBytes, 100_000, "kept while the server holds it open")
            kill(server, SIGKILL)
            try eventually("the server to die") { kill(server, 0) != 0 }
            close(fd)
            MountTable.unmount(f.mnt.path, lazy: true)
            let next = try f.ts.anotherProcess()
            defer { try? next.close() }
            XCTAssertEqual(try next.volume(f.ts.volumeID, owner: nil).statfs().usedBytes, 0)
            assertFsckClean(f.ts)
        }
    }

    func testReadOnlyAndSubpathFlags() throws {
        try withFixture { f in
            try f.ts.volume.writeFile("/inner/x.txt", data: Data("x".utf8), createParents: true)
            try f.ts.volume.writeFile("/outer.txt", data: Data("o".utf8))
            let out = try sh(f.cmd("mount", "--json --read-only --subpath /inner \(f.ts.volumeID) \(q(f.mnt.path))"))
            let server = try pid(fromJSON: out.stdout)
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: f.mnt.path), ["x.txt"])
            let w = try sh("echo y > \(q(f.mnt.path + "/y.txt"))", check: false)
            XCTAssertNotEqual(w.status, 0)
            XCTAssertTrue(w.stderr.contains("Read-only file system"), w.stderr)
            try sh(f.cmd("unmount", "\(q(f.mnt.path))"))
            try eventually("the server to exit") { kill(server, 0) != 0 }
            let missing = try sh(f.cmd("mount", "--subpath /nope \(f.ts.volumeID) \(q(f.mnt.path))"), check: false)
            XCTAssertEqual(missing.status, 3, missing.stderr)
            XCTAssertNil(MountTable.entry(at: f.mnt.path))
        }
    }
}
