// `volumectl mount --foreground` when nothing can be written: a log on /dev/full, and a data directory on a full disk.
import Foundation
import VolumeCore
import VolumeFUSE
import VolumeTestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

final class MountFullDiskTests: MountTestCase {
    /// Starts `volumectl ARGS` with stdout and stderr going to `output` (a path).
    private func start(_ args: [String], output: String) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try volumectl())
        p.arguments = args
        let out = try XCTUnwrap(FileHandle(forWritingAtPath: output))
        p.standardOutput = out
        p.standardError = out
        p.standardInput = FileHandle.nullDevice
        try p.run()
        return p
    }

    /// Writes `data` to a new file at `path` in 1 MiB writes, then fsyncs and closes it; returns the
    /// first errno any of those calls failed with (0: none). The file is closed on every path.
    private func writeFile(_ path: String, _ data: [UInt8]) -> Int32 {
        let fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0o644)
        guard fd >= 0 else { return errno }
        var failure: Int32 = 0
        var off = 0
        while off < data.count && failure == 0 {
            let n = data[off..<min(data.count, off + (1 << 20))].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 { failure = errno } else { off += n }
        }
        if failure == 0 && fsync(fd) != 0 { failure = errno }
        if close(fd) != 0 && failure == 0 { failure = errno }
        return failure
    }

    /// `FileHandle.write` traps when the write fails: a server whose log was on a full disk died
    /// with SIGILL when it had an error to report. With its output on /dev/full, a failing mount
    /// exits with its code, and a working one serves and exits cleanly.
    func testAMountWhoseOutputCannotBeWrittenReportsByExitCodeAndServes() throws {
        try requireFUSE()
        let ts = try TestStore(commitWindow: StoreOptions.mountCommitWindow)
        let mnt = try TemporaryDirectory("mnt")
        registerMountpoint(mnt.path)
        defer {
            if MountTable.entry(at: mnt.path) != nil { MountTable.unmount(mnt.path, lazy: true) }
            mnt.remove()
            ts.remove()
        }
        let missing = try start(["mount", "--data-dir", ts.dir.path, "--foreground", "no-such-volume", mnt.path], output: "/dev/full")
        missing.waitUntilExit()
        XCTAssertEqual(missing.terminationReason, .exit, "killed by signal \(missing.terminationStatus)")
        XCTAssertEqual(missing.terminationStatus, 3)

        let server = try start(["mount", "--data-dir", ts.dir.path, "--foreground", ts.volumeID, mnt.path], output: "/dev/full")
        defer { if server.isRunning { server.terminate(); server.waitUntilExit() } }
        try eventually("the mount") { MountTable.entry(at: mnt.path) != nil }
        try Data("logged nowhere".utf8).write(to: URL(fileURLWithPath: mnt.path + "/f.txt"))
        XCTAssertEqual(try String(contentsOfFile: mnt.path + "/f.txt", encoding: .utf8), "logged nowhere")
        server.terminate()
        server.waitUntilExit()
        XCTAssertEqual(server.terminationReason, .exit, "killed by signal \(server.terminationStatus)")
        XCTAssertEqual(server.terminationStatus, 0)
        XCTAssertNil(MountTable.entry(at: mnt.path))
        XCTAssertEqual(try ts.volume.readFile("/f.txt"), Data("logged nowhere".utf8))
    }

    /// A data directory on a full disk (a small tmpfs): writers get ENOSPC, the server logs it and
    /// keeps serving, and once space is freed the same mount takes writes again.
    func testAFullDiskGivesENOSPCAndTheMountRecoversOnceSpaceIsFreed() throws {
        try requireFUSE()
        let tmp = try TemporaryDirectory("full-disk")
        let fs = tmp.path + "/fs", mnt = tmp.path + "/mnt", log = tmp.path + "/server.log"
        try FileManager.default.createDirectory(atPath: fs, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
        guard mount("tmpfs", fs, "tmpfs", 0, "size=48m") == 0 else {
            throw XCTSkip("cannot mount a tmpfs here: \(String(cString: strerror(errno)))")
        }
        registerMountpoint(mnt)
        defer {
            if MountTable.entry(at: mnt) != nil { MountTable.unmount(mnt, lazy: true) }
            umount2(fs, Int32(MNT_DETACH))
            tmp.remove()
        }
        let data = fs + "/data"
        let cli = try volumectl()
        let id = try sh("\(q(cli)) volume create --data-dir \(q(data)) full --quiet").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try sh("\(q(cli)) quota set --data-dir \(q(data)) \(id) 1GiB")
        FileManager.default.createFile(atPath: log, contents: nil)
        let server = try start(["mount", "--data-dir", data, "--foreground", id, mnt], output: log)
        defer { if server.isRunning { server.terminate(); server.waitUntilExit() } }
        try eventually("the mount") { MountTable.entry(at: mnt) != nil }

        // Leave about 8 MiB free, then write 24 MiB.
        var st = statvfs()
        XCTAssertEqual(statvfs(fs, &st), 0)
        let free = Int(st.f_bavail) * Int(st.f_frsize)
        XCTAssertEqual(writeFile(fs + "/ballast", [UInt8](repeating: 1, count: max(0, free - (8 << 20)))), 0)
        let payload = (0..<(24 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
        XCTAssertEqual(writeFile(mnt + "/big", payload), ENOSPC, "a writer on a full disk hears ENOSPC")
        XCTAssertTrue(server.isRunning, "the server survives a full disk")
        try eventually("the failure to be logged") {
            (try String(contentsOfFile: log, encoding: .utf8)).contains("no space left")
        }

        // Free the space: the same mount takes the write now.
        try FileManager.default.removeItem(atPath: fs + "/ballast")
        XCTAssertEqual(writeFile(mnt + "/after", payload), 0)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: mnt + "/after")), Data(payload))

        try sh("\(q(cli)) unmount --data-dir \(q(data)) \(q(mnt))")
        server.waitUntilExit()
        XCTAssertEqual(server.terminationReason, .exit, "killed by signal \(server.terminationStatus)")
        XCTAssertEqual(server.terminationStatus, 0, (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
        let fsck = try sh("\(q(cli)) fsck --data-dir \(q(data))", check: false)
        XCTAssertEqual(fsck.status, 0, fsck.stdout + fsck.stderr)
    }
}
