// Test harness for real mounts: a mount helper that always unmounts, shell commands as any user, and
// the check that no mount is ever left behind.
import Foundation
import Synchronization
import VolumeCore
import VolumeFUSE
import VolumeTestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Skips the test when this host cannot mount FUSE file systems.
func requireFUSE() throws {
    try XCTSkipUnless(FileManager.default.fileExists(atPath: "/dev/fuse"),
                      "/dev/fuse is absent: FUSE mount tests need it (apt-get install fuse3; run as root)")
}

/// The volumectl binary next to the test bundle (skips the test when it is not built).
func volumectl() throws -> String {
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for _ in 0..<3 {
        let candidate = dir.appendingPathComponent("volumectl").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        dir = dir.deletingLastPathComponent()
    }
    let fallback = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../.build/debug/volumectl").standardized.path
    try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: fallback), "volumectl is not built (swift build)")
    return fallback
}

/// Waits (up to 20 s; normally well under 1 s) for `condition` (a throw counts as "not yet"),
/// and fails the test naming `what` when it never holds.
func eventually(_ what: String, _ condition: () throws -> Bool) throws {
    let deadline = Date().addingTimeInterval(20)
    while Date() < deadline {
        if (try? condition()) == true { return }
        usleep(20_000)
    }
    XCTFail("timed out waiting for \(what)")
}

/// A temporary mountpoint with `volume` mounted on it for the duration of `body`. Always unmounts
/// and removes the directory, even when `body` throws, and fails the test if the mount survives.
@discardableResult
func withMount<T>(_ volume: Volume, options: MountOptions = MountOptions(), file: StaticString = #filePath, line: UInt = #line,
                  _ body: (FUSEMount) throws -> T) throws -> T {
    try requireFUSE()
    let dir = try TemporaryDirectory("mnt")
    try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: dir.path)
    registerMountpoint(dir.path)
    let mount: FUSEMount
    do {
        mount = try FUSEMount.start(volume: volume, mountpoint: dir.path, options: options)
    } catch {
        dir.remove()
        throw error
    }
    defer {
        mount.stop(timeout: 2)
        if MountTable.entry(at: mount.mountpoint) != nil {
            XCTFail("\(mount.mountpoint) is still mounted after stop()", file: file, line: line)
            MountTable.unmount(mount.mountpoint, lazy: true)
        }
        dir.remove()
    }
    return try body(mount)
}

/// Every mountpoint this test process has used. Other processes (another test run, a CI clone)
/// may have volume mounts of their own at the same time: only ours are checked, and only ours are
/// ever unmounted.
private let usedMountpoints = Mutex<Set<String>>([])

/// Records a temporary mountpoint this process mounts on (the real, canonical path).
func registerMountpoint(_ path: String) {
    let canonical = (try? MountTable.canonical(path)) ?? path
    usedMountpoints.withLock { _ = $0.insert(canonical) }
}

/// Mountpoints of this process that are still in the mount table.
func leftoverMounts() -> [String] {
    let mine = usedMountpoints.withLock { $0 }
    return MountTable.entries().filter { $0.isVolume && mine.contains($0.mountpoint) }.map(\.mountpoint)
}

/// The result of a shell command.
struct ShellResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

enum ShellError: Error, CustomStringConvertible {
    case failed(String, ShellResult)
    var description: String {
        switch self {
        case let .failed(cmd, r): return "`\(cmd)` exited \(r.status)\nstdout: \(r.stdout.suffix(2000))\nstderr: \(r.stderr.suffix(2000))"
        }
    }
}

/// Collects a pipe's bytes on another thread.
private final class Drain: @unchecked Sendable {
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)
    init(_ handle: FileHandle) {
        Thread { [self] in
            data = handle.readDataToEndOfFile()
            done.signal()
        }.start()
    }
    func wait() -> Data {
        done.wait()
        return data
    }
}

/// Runs `command` with /bin/sh in `cwd`, as `uid`/`gid` (through setpriv) when given.
@discardableResult
func sh(_ command: String, cwd: String? = nil, uid: UInt32? = nil, gid: UInt32? = nil, env: [String: String] = [:],
        check: Bool = true) throws -> ShellResult {
    let p = Process()
    if let uid {
        p.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        p.arguments = ["--reuid=\(uid)", "--regid=\(gid ?? uid)", "--clear-groups", "--", "/bin/sh", "-c", command]
    } else {
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", command]
    }
    if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    var environment = ProcessInfo.processInfo.environment
    for (k, v) in env { environment[k] = v }
    p.environment = environment
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    p.standardInput = FileHandle.nullDevice
    try p.run()
    let o = Drain(out.fileHandleForReading), e = Drain(err.fileHandleForReading)
    p.waitUntilExit()
    let r = ShellResult(status: p.terminationStatus, stdout: String(decoding: o.wait(), as: UTF8.self),
                        stderr: String(decoding: e.wait(), as: UTF8.self))
    if check && r.status != 0 { throw ShellError.failed(command, r) }
    return r
}

/// Quotes a string for /bin/sh.
func q(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

/// Asserts that fsck finds nothing wrong in any volume of the store.
func assertFsckClean(_ store: TestStore, file: StaticString = #filePath, line: UInt = #line) {
    do {
        let problems = try store.fsckProblems()
        XCTAssertEqual(problems, [], "fsck problems", file: file, line: line)
    } catch {
        XCTFail("fsck failed: \(error)", file: file, line: line)
    }
}

/// Base class of mount tests: checks after every test that no mount was left behind.
class MountTestCase: XCTestCase {
    override func tearDown() {
        let left = leftoverMounts()
        XCTAssertEqual(left, [], "FUSE mounts left behind")
        for m in left { MountTable.unmount(m, lazy: true) }
        super.tearDown()
    }
}
