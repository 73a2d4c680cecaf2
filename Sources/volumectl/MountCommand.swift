// volumectl mount: serve a volume as a directory through FUSE, in the foreground or detached.
import ArgumentParser
import Foundation
import VolumeCore
import VolumeFUSE

#if canImport(Glibc)
import Glibc
#endif

struct MountCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mount",
        abstract: "Mount a volume on a directory (FUSE), read-write or read-only, whole or from a subpath.",
        discussion: """
            Without --foreground the command starts a detached server (a new session, its output
            sent to --log-file or discarded), waits until the mount is usable, prints it and exits;
            the server runs until 'volumectl unmount MOUNTPOINT' (or SIGTERM/SIGINT to it), commits
            buffered writes and exits. With --foreground it serves in this process until unmounted
            or interrupted.

            --map-root UID:GID makes the volume the sandbox user's own: entries stored as owned by
            root (what the files API writes unless told otherwise) show as UID:GID in the mount, and
            what UID:GID creates or chowns to itself is stored as root (the two ids are swapped, so
            nothing collides). That user can then do to the volume's root-owned entries whatever
            their owner could; the mount is nosuid, so no setuid bit in the volume gives root.

            A mountpoint left behind by a server that died is detected and detached first
            (fusermount3 -uz). Writes are committed on close and fsync; fsync makes them survive a
            power loss (--durability full makes every commit do so).
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The volume: its ID, or a name unique among the tenant's volumes.")
    var volume: String

    @Argument(help: "An existing directory to mount on.")
    var mountpoint: String

    @Flag(name: .customLong("read-only"), help: "Refuse every change with EROFS.")
    var readOnly = false

    @Option(help: "Show this directory of the volume as the mount's root.")
    var subpath = "/"

    @Flag(name: .customLong("strict-subpath"), help: "Resolve --subpath without following any symlink (as sandbox attachments do).")
    var strictSubpath = false

    @Option(name: .customLong("map-root"), help: ArgumentHelp(
        "Show entries stored as root as owned by UID:GID (a sandbox's user), and store that user's as root.",
        valueName: "uid:gid"))
    var mapRoot: String?

    @Flag(help: "Serve in this process until unmounted or interrupted.")
    var foreground = false

    @Option(name: .customLong("log-file"), help: "Where a detached server writes its log (default: discarded).")
    var logFile: String?

    @Option(help: "relaxed: commits survive a crash, fsync makes them survive a power loss (POSIX); full: every commit is synced.")
    var durability: Durability = .relaxed

    @Option(name: .customLong("commit-window"), help: ArgumentHelp(
        "Milliseconds a metadata change may wait to be committed together with others (relaxed durability; 0: each on its own).",
        discussion: "Group commits make creating and deleting many small files several times faster. A killed server loses at most this much of what it acknowledged but nobody fsynced."))
    var commitWindowMs: Double = StoreOptions.mountCommitWindow * 1000

    @Flag(name: .customLong("auto-unmount"), inversion: .prefixedNo,
          help: "Have fusermount3 detach the mount if the server dies.")
    var autoUnmount = true

    @Option(name: .customLong("cache-timeout"), help: "Seconds the kernel may cache attributes and names (changes made elsewhere invalidate them sooner).")
    var cacheTimeout: Double = MountOptions().attrTimeout

    @Flag(help: "Print libfuse's request trace (with --foreground).")
    var debug = false

    /// The environment variable through which a detached server reports readiness.
    static let readyFDVariable = "VOLUMECTL_MOUNT_READY_FD"

    func validate() throws {
        guard !mountpoint.isEmpty else { throw ValidationError("the mountpoint must be a path") }
        guard commitWindowMs >= 0, commitWindowMs <= 1000 else { throw ValidationError("--commit-window must be 0 to 1000 milliseconds") }
        if (try? VolumePath(subpath)) == nil { throw ValidationError("--subpath must be a path inside the volume, without '..'") }
        guard cacheTimeout >= 0 else { throw ValidationError("--cache-timeout must not be negative") }
        if let mapRoot { _ = try Self.mapping(mapRoot) }
    }

    /// `--map-root`'s owner mapping: `UID:GID` or `UID` (numbers; root maps to nothing).
    static func mapping(_ text: String) throws -> OwnerMapping {
        guard let owner = try? FileOwner(parsing: text), text != "root" else {
            throw ValidationError("--map-root takes a numeric UID:GID (or UID), like 1000:1000")
        }
        return OwnerMapping(owner)
    }

    func run() throws {
        try global.requireLocal("mount")
        if foreground {
            try serve()
        } else {
            try reporting { try detach() }
        }
    }

    // MARK: Serving

    private func serve() throws {
        let readyFD = ProcessInfo.processInfo.environment[Self.readyFDVariable].flatMap(Int32.init)
        // Signals are taken by a thread of our own; block them before any other thread starts.
        var set = sigset_t()
        sigemptyset(&set)
        for s in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&set, s) }
        pthread_sigmask(SIG_BLOCK, &set, nil)

        let mount: FUSEMount
        let store: VolumeStore
        var lease: Lease?
        do {
            var storeOptions = StoreOptions(durability: durability)
            storeOptions.commitWindow = commitWindowMs / 1000
            store = try VolumeStore(dataDir: global.resolvedDataDir, options: storeOptions)
            let id = try store.resolve(volume, owner: global.scope)
            let v = try store.volume(id, owner: global.scope)
            // A mount lease held by this server: deleting the volume is refused while it serves
            // (unless forced), and a volume being deleted is not mounted.
            lease = try store.acquireLease(volume: id, purpose: .mount)
            var options = MountOptions(readOnly: readOnly, subpath: subpath)
            options.debug = debug
            options.strictSubpath = strictSubpath
            options.autoUnmount = autoUnmount
            options.attrTimeout = cacheTimeout
            options.entryTimeout = cacheTimeout
            options.ownerMapping = try mapRoot.map(Self.mapping)
            mount = try FUSEMount.start(volume: v, mountpoint: mountpoint, options: options)
        } catch {
            // (A lease taken before the failure is this process's: stale once it exits, just below.)
            if let fd = readyFD { Self.report(fd, "error: \(error)") }
            try reporting { throw error }
            return
        }
        if let fd = readyFD {
            Self.report(fd, "ready \(mount.mountpoint)")
        } else if global.json {
            try printJSON(["volume_id": mount.volume.id, "mountpoint": mount.mountpoint, "pid": String(getpid())])
        } else {
            print("mounted \(mount.volume.id) at \(mount.mountpoint); unmount with 'volumectl unmount \(mount.mountpoint)' or Ctrl-C")
        }
        let waitSet = set
        let signals = Thread {
            var s = waitSet
            var sig: Int32 = 0
            sigwait(&s, &sig)
            mount.stop(timeout: 2)
        }
        signals.start()
        mount.wait()
        mount.stop()
        try reporting {
            try mount.volume.flushAll()
            if let lease { _ = try? store.releaseLease(lease.id) }
            try store.close()
        }
    }

    /// Marks every open descriptor above stderr close-on-exec, except `keep`.
    private static func closeOnExec(except keep: Set<Int32>) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return }
        for name in names {
            guard let fd = Int32(name), fd > 2, !keep.contains(fd) else { continue }
            let flags = fcntl(fd, F_GETFD)
            if flags >= 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
        }
    }

    private static func report(_ fd: Int32, _ line: String) {
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    // MARK: Detaching

    /// Starts this command again with --foreground in a new session and waits until it mounted.
    private func detach() throws {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw VolumeError.io("pipe", errno: errno) }
        let (readEnd, writeEnd) = (fds[0], fds[1])
        var args = CommandLine.arguments
        args[0] = "/proc/self/exe"
        args.append("--foreground")
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        args[0] = exe

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let log = logFile ?? "/dev/null"
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        posix_spawn_file_actions_addclose(&actions, readEnd)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, 3)
        // Nothing else of ours leaks into the server (a parent waiting for EOF on a pipe or socket it
        // handed us would wait for the server's whole life).
        Self.closeOnExec(except: [writeEnd])
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        posix_spawnattr_setflags(&attr, Int16(0x80)) // POSIX_SPAWN_SETSID: leave our session and terminal

        var env = ProcessInfo.processInfo.environment
        env[Self.readyFDVariable] = "3"
        let cArgs = args.map { strdup($0) } + [nil]
        let cEnv = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            cArgs.forEach { free($0) }
            cEnv.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, exe, &actions, &attr, cArgs, cEnv)
        close(writeEnd)
        guard rc == 0 else {
            close(readEnd)
            throw VolumeError.io("cannot start the mount server \(exe)", errno: rc)
        }
        // The child writes one line: "ready MOUNTPOINT" or "error: ...". EOF without it means it died.
        var reply = Data()
        var buf = [UInt8](repeating: 0, count: 4096)
        // Read one line only: helpers the server starts (fusermount3) may keep the pipe open.
        while !reply.contains(UInt8(ascii: "\n")) {
            let n = read(readEnd, &buf, buf.count)
            if n > 0 { reply.append(contentsOf: buf[0..<n]); continue }
            if n < 0 && errno == EINTR { continue }
            break
        }
        close(readEnd)
        let line = String(decoding: reply, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if line.hasPrefix("ready ") {
            let at = String(line.dropFirst(6))
            if global.json {
                try printJSON(["mountpoint": at, "pid": String(pid)])
            } else {
                print("mounted at \(at) (server pid \(pid)); unmount with 'volumectl unmount \(at)'")
            }
            return
        }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 70
        writeStderr("volumectl: \(line.hasPrefix("error: ") ? String(line.dropFirst(7)) : "the mount server exited before mounting\(logFile.map { "; see \($0)" } ?? "")")\n")
        throw ExitCode(code == 0 ? 70 : code)
    }
}

extension Durability: ExpressibleByArgument {}
