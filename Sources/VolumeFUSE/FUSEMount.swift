// The embeddable mount engine: one libfuse session per mount, its loop on its own thread.
import CFuse3
import Foundation
import Logging
import Synchronization
import VolumeCore

#if canImport(Glibc)
import Glibc
#endif

/// How a volume is mounted.
public struct MountOptions: Sendable {
    /// Refuse every change with EROFS (the kernel mount is `ro` too).
    public var readOnly = false
    /// The directory of the volume shown as the mount's root.
    public var subpath = "/"
    /// Resolve `subpath` without following any symlink (`Volume.resolveSubpath`), as attachments do.
    public var strictSubpath = false
    /// Let every user reach the mount (the kernel then checks permissions: `default_permissions`).
    public var allowOther = true
    /// Seconds the kernel may trust attributes and names without asking. Changes made elsewhere
    /// in this process are pushed to the kernel at once, and other processes' changes are found
    /// by polling (every `pollInterval`), so this only bounds staleness if both of those fail;
    /// long, so that repeated stats and lookups never leave the kernel. Names that do not exist
    /// are never cached.
    public var attrTimeout = 30.0
    public var entryTimeout = 30.0
    /// Keep the page cache across opens (safe: every change made elsewhere invalidates it).
    public var keepCache = true
    /// Seconds between checks for commits by other processes (0: never poll).
    public var pollInterval = 0.2
    /// Threads serving FUSE requests at most (started as requests need them, then kept).
    public var maxThreads = 8
    /// Have `fusermount3` unmount the mount if this process dies without unmounting.
    public var autoUnmount = true
    /// Kernel readahead for files of the mount, in KiB (0: the kernel's default, 128). A megabyte
    /// makes a sequential reader's FUSE reads 1 MiB each, the request size of the mount (a quarter
    /// of a default 4 MiB block; a whole block of volumes made with 1 MiB blocks).
    public var readaheadKB = 1024
    /// Print libfuse's request trace to stderr.
    public var debug = false
    /// Swap stored root and this owner's ids between the catalog and the kernel (`OwnerMapping`):
    /// a volume filled as root shows as the sandbox user's own, and what that user creates is
    /// stored as root. Nil: ids are shown as stored.
    public var ownerMapping: OwnerMapping?

    public init(readOnly: Bool = false, subpath: String = "/") {
        self.readOnly = readOnly
        self.subpath = subpath
    }
}

/// A mounted volume. `start` mounts and serves on a thread of its own; `stop` unmounts, commits
/// buffered writes and frees the session. One process can hold any number of mounts, of the same
/// volume or of different ones; they hear each other's changes through the volume's observers.
///
/// ```swift
/// let m = try FUSEMount.start(volume: v, mountpoint: "/mnt/data")
/// defer { m.stop() }
/// ```
public final class FUSEMount: Sendable {
    public let mountpoint: String
    public let volume: Volume
    public let options: MountOptions
    let fs: FUSEFileSystem
    private let session: SessionHandle
    private let userdata: SessionHandle
    private let observer: Int
    /// The kernel's FUSE connection number (the mount's minor device number), for aborting.
    private let connection: UInt32?
    private let loopEnded = Latch()
    /// Opened when `stop` has finished its work.
    private let stopFinished = Latch()
    /// Opened by whichever comes first: the loop ending or `stop` finishing.
    private let over = Latch()
    private let stopped = Mutex(false)
    private let logger: Logger

    private init(mountpoint: String, volume: Volume, options: MountOptions, fs: FUSEFileSystem, session: SessionHandle,
                 userdata: SessionHandle, observer: Int, connection: UInt32?, logger: Logger) {
        self.mountpoint = mountpoint
        self.volume = volume
        self.options = options
        self.fs = fs
        self.session = session
        self.userdata = userdata
        self.observer = observer
        self.connection = connection
        self.logger = logger
    }

    private static let origins = Atomic<Int>(1_000_000)

    /// Mounts `volume` at `mountpoint` and starts serving. A mountpoint left behind by a process
    /// that died is cleaned up first; a live mount there is an error.
    public static func start(volume: Volume, mountpoint: String, options: MountOptions = MountOptions(),
                             logger: Logger = Logger(label: "volumes.fuse")) throws -> FUSEMount {
        HeapTrimmer.start()
        guard FileManager.default.fileExists(atPath: "/dev/fuse") else {
            throw VolumeError.io("/dev/fuse is missing: this host cannot mount FUSE file systems", errno: ENODEV)
        }
        var tuned = logger
        if options.debug { tuned.logLevel = .debug }
        let logger = tuned
        // The invalidator polls foreignChanges (unless told not to), which is what lets the view
        // serve recent attributes.
        let view = options.strictSubpath
            ? try MountView(volume: volume, resolved: try volume.resolveSubpath(options.subpath), readOnly: options.readOnly,
                            recentAttributes: options.pollInterval > 0)
            : try MountView(volume: volume, subpath: options.subpath, readOnly: options.readOnly,
                            recentAttributes: options.pollInterval > 0)
        let path = try MountTable.prepare(mountpoint, logger: logger)
        let origin = origins.add(1, ordering: .relaxed).newValue
        let fs = FUSEFileSystem(view: view, options: options, origin: origin, logger: logger)

        // `nodev` and `nosuid` (libfuse's defaults too, said here so they never go): device nodes in a
        // volume are inert entries, never opened as devices, and a setuid or setgid bit in a volume
        // never raises a program's privileges (with an owner mapping a sandbox user owns what is
        // stored as root, so it could make a root-owned setuid file).
        var mountOptions = ["fsname=volume:\(volume.id)", "subtype=volume", "nodev", "nosuid"]
        if options.allowOther { mountOptions += ["allow_other", "default_permissions"] }
        if options.readOnly { mountOptions.append("ro") }
        if options.autoUnmount { mountOptions.append("auto_unmount") }
        var argv = ["volume", "-o", mountOptions.joined(separator: ",")]
        if options.debug { argv.append("-d") }

        let userdata = Unmanaged.passRetained(fs)
        var ops = makeOperations()
        let cArgs = argv.map { strdup($0) }
        defer { cArgs.forEach { free($0) } }
        var cArgv: [UnsafeMutablePointer<CChar>?] = cArgs + [nil]
        let se: OpaquePointer? = cArgv.withUnsafeMutableBufferPointer { buf in
            var args = fuse_args(argc: Int32(cArgs.count), argv: buf.baseAddress, allocated: 0)
            defer { fuse_opt_free_args(&args) }
            return fuse_session_new(&args, &ops, MemoryLayout<fuse_lowlevel_ops>.size, userdata.toOpaque())
        }
        guard let se else {
            userdata.release()
            throw VolumeError.io("cannot create a FUSE session for \(path)", errno: EINVAL)
        }
        guard fuse_session_mount(se, path) == 0 else {
            fuse_session_destroy(se)
            userdata.release()
            throw VolumeError.io("cannot mount \(volume.id) at \(path) (see the message above)", errno: EIO)
        }
        let session = SessionHandle(raw: se)
        let token = volume.addObserver { [fs] event, from in
            guard from != fs.origin else { return }
            switch event {
            case .inode(let ino):
                fs.invalidator.enqueue(.inode(fs.view.view(ino)))
            case let .entry(parent, name):
                fs.view.treeChangedElsewhere()
                fs.invalidator.enqueue(.entry(parent: fs.view.view(parent), name: name))
            }
        }
        let entry = MountTable.entry(at: path)
        if let entry, options.readaheadKB > 0 {
            MountTable.setReadahead(major: entry.major, minor: entry.minor, kilobytes: options.readaheadKB)
        }
        let mount = FUSEMount(mountpoint: path, volume: volume, options: options, fs: fs, session: session,
                              userdata: SessionHandle(raw: OpaquePointer(userdata.toOpaque())), observer: token,
                              connection: entry?.minor, logger: logger)
        fs.invalidator.start(session: session)
        let ended = mount.loopEnded, over = mount.over
        let thread = Thread { [fs] in
            fs.loop.run(session)
            ended.open()
            over.open()
        }
        thread.name = "fuse-loop"
        thread.stackSize = 1 << 20
        thread.start()
        logger.info("mounted \(volume.id)\(options.subpath == "/" ? "" : ":" + options.subpath) at \(path)\(options.readOnly ? " (read-only)" : "")\(options.ownerMapping.map { ", root shown as \($0.owner)" } ?? "")")
        return mount
    }

    /// Whether the session still serves (false once unmounted, by `stop` or from outside).
    public var isServing: Bool { !loopEnded.isOpen }

    /// Blocks until the mount ends: an unmount from outside, or `stop()` (which may return while
    /// processes still hold files open under a lazily detached mount).
    public func wait() { over.wait() }

    /// Waits until every change made elsewhere in this process so far has reached this mount's
    /// kernel caches (for tests that check coherence step by step).
    public func settle() { fs.invalidator.settle() }

    /// Unmounts (lazily: processes still inside keep their open files until they close them),
    /// commits every buffered write and frees the session. Safe to call more than once.
    public func stop(timeout: Double = 5) {
        let first = stopped.withLock { s -> Bool in
            defer { s = true }
            return !s
        }
        guard first else {
            stopFinished.wait()
            return
        }
        defer {
            stopFinished.open()
            over.open()
        }
        fs.invalidator.stop()
        volume.removeObserver(observer)
        // Commit what open files buffered before anything else can go wrong.
        fs.flushAll()
        if !loopEnded.isOpen {
            MountTable.unmount(mountpoint, lazy: true, logger: logger)
            if !loopEnded.wait(timeout: timeout) {
                logger.warning("\(mountpoint): files are still open after unmount; aborting the FUSE connection")
                if let c = connection { MountTable.abortConnection(c, logger: logger) }
                if !loopEnded.wait(timeout: timeout) {
                    // No way to abort: the session ends when the last file is closed (buffered writes are committed).
                    logger.warning("\(mountpoint): the session ends when its last open file is closed")
                    let fs = self.fs, session = self.session, userdata = self.userdata, ended = self.loopEnded
                    Thread { ended.wait(); Self.finish(fs, session, userdata) }.start()
                    return
                }
            }
        }
        Self.finish(fs, session, userdata)
        logger.info("unmounted \(mountpoint)")
    }

    private static func finish(_ fs: FUSEFileSystem, _ session: SessionHandle, _ userdata: SessionHandle) {
        fs.releaseAll()
        fuse_session_unmount(session.raw)
        fuse_session_destroy(session.raw)
        Unmanaged<FUSEFileSystem>.fromOpaque(UnsafeRawPointer(userdata.raw)).release()
    }

    /// How many inodes the kernel holds lookups on, the root included (tests check forget).
    public var kernelNodeCount: Int { fs.nodes.count }
    /// The kernel's lookup count of a view inode.
    public func lookupCount(_ ino: UInt64) -> UInt64 { fs.nodes.lookups(ino) }
    /// File handles open on this mount.
    public var openHandleCount: Int { fs.handles.openFileCount }
    /// WRITE requests whose buffer a handler took instead of copying its data out (every 1 MiB write).
    public var requestBuffersTaken: Int { fs.loop.requestBuffersTaken.load(ordering: .relaxed) }
    /// WRITE requests whose data a block kept as it was, without a copy (whole 1 MiB blocks).
    public var requestBuffersKept: Int { fs.loop.requestBuffersKept.load(ordering: .relaxed) }
    /// Threads serving this mount's requests so far (they start as requests need them).
    public var requestThreads: Int { fs.loop.workers }
    /// Invalidations delivered to the kernel so far.
    public var invalidationsSent: Int { fs.invalidator.sent.load(ordering: .relaxed) }
    /// The mount's view of the volume.
    public var view: MountView { fs.view }
}

/// A one-way gate threads can wait on.
final class Latch: Sendable {
    private let cond = NSCondition()
    private let flag = Atomic<Bool>(false)

    var isOpen: Bool { flag.load(ordering: .acquiring) }

    func open() {
        cond.lock()
        flag.store(true, ordering: .releasing)
        cond.broadcast()
        cond.unlock()
    }

    func wait() {
        cond.lock()
        while !flag.load(ordering: .acquiring) { cond.wait() }
        cond.unlock()
    }

    /// False when `timeout` seconds passed first.
    func wait(timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        cond.lock()
        defer { cond.unlock() }
        while !flag.load(ordering: .acquiring) {
            if !cond.wait(until: deadline) { return flag.load(ordering: .acquiring) }
        }
        return true
    }
}
