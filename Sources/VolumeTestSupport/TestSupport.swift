// Helpers every test target shares: temporary directories that always go away, and ready-made stores.
import Foundation
import VolumeCore

/// A directory under the system temp folder, removed by `remove()` (call it in a `defer`).
public struct TemporaryDirectory: Sendable {
    public let url: URL
    public var path: String { url.path }

    public init(_ label: String = "vol") throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    public func remove() { try? FileManager.default.removeItem(at: url) }
}

/// A store in a fresh temporary data directory, with one volume owned by tenant "t1".
public struct TestStore: Sendable {
    public let dir: TemporaryDirectory
    public let store: VolumeStore
    public let volumeID: String
    public let volume: Volume

    /// `cap` overrides the default 2 GiB; `chunks` replaces the local chunk store (e.g. a fault-injecting one);
    /// `commitWindow` groups commits as a mount does (`StoreOptions.mountCommitWindow`).
    public init(cap: Int64? = nil, durability: Durability = .relaxed, blockSize: Int = StoreOptions.defaultBlockSize,
                chunks: (any ChunkStore)? = nil, commitWindow: Double = 0) throws {
        dir = try TemporaryDirectory("store")
        var options = StoreOptions(defaultCapBytes: cap ?? StoreOptions.defaultCap, durability: durability, blockSize: blockSize)
        options.commitWindow = commitWindow
        store = try VolumeStore(dataDir: dir.url, options: options, chunks: chunks)
        volumeID = try store.createVolume(owner: "t1", name: "test").volumeId
        volume = try store.volume(volumeID, owner: "t1")
    }

    /// Another store on the same data directory: what another process opening it would have (its
    /// own connections, commit tracking and open-file marks). Close it when done.
    public func anotherProcess() throws -> VolumeStore {
        try VolumeStore(dataDir: dir.url, options: StoreOptions(durability: .relaxed))
    }

    /// Runs fsck on every volume and returns the problems (empty when clean).
    public func fsckProblems() throws -> [String] { try store.fsck().flatMap(\.problems) }

    public func remove() {
        try? store.close()
        dir.remove()
    }
}

/// The errno of the `VolumeError` `body` throws (-1 for another error), or nil when it throws none.
public func errnoOf(_ body: () throws -> Void) -> Int32? {
    do { try body(); return nil } catch let e as VolumeError { return e.errno } catch { return -1 }
}

/// Polls `condition` every 10 ms until it holds or `seconds` pass, and says whether it held (for
/// work a test cannot wait on directly, like a mount's background stores).
public func eventually(within seconds: Double = 20, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while try !condition() {
        guard Date() < deadline else { return false }
        usleep(10_000)
    }
    return true
}

/// A clock that stands still until a test moves it (the in-memory twin of `SystemClock`).
public final class ManualClock: WallClock, @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date

    public init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) { current = start }

    public func now() -> Date { lock.withLock { current } }

    /// Moves the clock `seconds` forward.
    public func advance(_ seconds: TimeInterval) { lock.withLock { current = current.addingTimeInterval(seconds) } }
}

/// A real process (`sleep`) to stand for a lease holder: alive until `kill()` (which also reaps it).
public final class ChildProcess: @unchecked Sendable {
    public let process: Process
    public var pid: Int32 { process.processIdentifier }

    /// Starts `sleep 600`.
    public init() throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sleep")
        process.arguments = ["600"]
        try process.run()
    }

    /// SIGKILL, then waits until it has exited and been reaped.
    public func kill() {
        guard process.isRunning else { return }
        Foundation.kill(pid, SIGKILL)
        process.waitUntilExit()
    }

    deinit { kill() }
}
