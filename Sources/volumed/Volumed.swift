// volumed: the host daemon. Parses its settings, opens the data directory, serves the HTTP API until SIGTERM/SIGINT.
import ArgumentParser
import Foundation
import Hummingbird
import HummingbirdCore
import NIOCore
import Logging
import SandboxRuntime
import ServiceLifecycle
import VolumeCore
import VolumeServer

@main
struct Volumed: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "volumed",
        abstract: "Serve volumes over HTTP: the volumes and files API, with tenants and API keys.",
        discussion: """
            Each setting comes from its flag, else its environment variable (VOLUMED_DATA_DIR, VOLUMED_LISTEN,
            VOLUMED_SOCKET, VOLUMED_THREADS, ...: the flag's name in capitals with '_'), else the JSON config
            file (--config, or VOLUMED_CONFIG; keys like data_dir, listen, socket, threads), else its default.
            The first start writes an operator key to DATA_DIR/operator.key (mode 0600).
            SIGTERM or SIGINT: stop accepting, let requests in flight finish (at most --drain seconds), commit
            and close every volume, exit 0.
            """
    )

    @Option(name: .customLong("data-dir"), help: "The data directory (default: $VOLUMES_DATA_DIR, else /var/lib/volumes as root, ~/.local/share/volumes otherwise).")
    var dataDir: String?
    @Option(help: "TCP address to listen on, HOST:PORT (default 127.0.0.1:8780; port 0 picks a free one).")
    var listen: String?
    @Option(help: "Also listen on this Unix socket (for the host's sandbox manager).")
    var socket: String?
    @Option(help: "A JSON file with settings (keys: data_dir, listen, socket, address_file, threads, idle_close_seconds, drain_seconds, idle_timeout_seconds, max_json_bytes, max_file_bytes, max_batch_bytes, max_import_bytes, upload_expiry_seconds, signing_secret, watch_heartbeat_seconds, gc_interval_seconds, gc_grace_seconds, journal_keep_events, journal_keep_seconds).")
    var config: String?
    @Option(name: .customLong("address-file"), help: "Write the bound URL (http://HOST:PORT) to this file once listening.")
    var addressFile: String?
    @Option(help: "Threads that run blocking core calls (default 32). Each streaming upload holds one while it runs.")
    var threads: Int?
    @Option(name: .customLong("idle-close"), help: "Close a volume's catalog after this many idle seconds (default 60).")
    var idleClose: Double?
    @Option(help: "At shutdown, wait at most this many seconds for requests in flight (default 30).")
    var drain: Double?
    @Option(name: .customLong("idle-timeout"), help: "Close an HTTP connection idle for this many seconds (default 60).")
    var idleTimeout: Double?
    @Option(name: .customLong("max-json-bytes"), help: "Largest JSON request body (default 1048576).")
    var maxJSONBytes: Int?
    @Option(name: .customLong("max-file-bytes"), help: "Largest file body of a PUT (default: no limit but the volume's cap).")
    var maxFileBytes: Int64?
    @Option(name: .customLong("max-batch-bytes"), help: "Largest multipart batch write body, held in memory (default 67108864).")
    var maxBatchBytes: Int?
    @Option(name: .customLong("watch-heartbeat"), help: "Seconds between heartbeat comments on an idle watch stream (default 15).")
    var watchHeartbeat: Double?
    @Option(name: .customLong("gc-interval"), help: "Run gc (and trim change journals) every this many seconds; 0: never (default 3600).")
    var gcInterval: Double?
    @Option(name: .customLong("gc-grace"), help: "gc keeps unreferenced chunks younger than this many seconds (default 3600, as volumectl gc).")
    var gcGrace: Double?
    @Option(name: .customLong("journal-keep-events"), help: "Each volume's change journal keeps at least its last this many events (default 100000).")
    var journalKeepEvents: Int64?
    @Option(name: .customLong("journal-keep-seconds"), help: "... and drops events older than this many seconds (default 86400).")
    var journalKeepSeconds: Double?
    @Flag(name: .customLong("print-routes"), help: "Print every route the daemon serves (METHOD PATH, one a line) and exit.")
    var printRoutes = false
    @Option(name: .customLong("max-import-bytes"), help: "Largest tar.gz body of a volume create (default and most 4 GiB).")
    var maxImportBytes: Int64?
    @Option(name: .customLong("upload-expiry"), help: "A resumable upload not continued for this many seconds expires and its bytes are collected (default 86400).")
    var uploadExpiry: Double?
    @Option(name: .customLong("signing-secret"), help: "The secret signed URLs are signed with (default: DATA_DIR/signing.key, generated on first start). Changing it revokes every URL signed before.")
    var signingSecret: String?

    @Option(name: .customLong("mount-root"), help: "Where sandboxes' attachments are mounted, one directory each (default DATA_DIR/mounts).")
    var mountRoot: String?
    @Option(name: .customLong("volumectl"), help: "The volumectl that serves mounts (default: the one beside volumed).")
    var volumectlPath: String?
    @Option(name: .customLong("sandbox-runtime"), help: "bwrap: run the processes of sandboxes created with \"runtime\": \"bwrap\" (needs root and bubblewrap); none: records and mounts only (default none; $VOLUMED_SANDBOX_RUNTIME).")
    var sandboxRuntime: String?
    @Flag(name: .customLong("mount-launcher"), inversion: .prefixedNo, help: "Fork mount servers from one warm 'volumectl mount-launcher' process instead of starting volumectl for each mount (default on; $VOLUMED_MOUNT_LAUNCHER=0 turns it off).")
    var mountLauncher: Bool?
    @Flag(name: .customLong("tenant-namespace-pid"), help: "Let tenant keys give namespace_pid (the daemon places mounts in that process's mount namespace); by default only operator keys may, the host's sandbox manager's ($VOLUMED_TENANT_NAMESPACE_PID=1).")
    var tenantNamespacePid = false

    func settings() throws -> Settings {
        let env = ProcessInfo.processInfo.environment
        func e(_ name: String) -> String? { env[name].flatMap { $0.isEmpty ? nil : $0 } }
        var file = Settings.File()
        if let path = config ?? e("VOLUMED_CONFIG") {
            do {
                file = try JSONDecoder().decode(Settings.File.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
            } catch {
                throw SettingsError("cannot read the config file \(path): \(error)")
            }
        }
        func number<T: LosslessStringConvertible>(_ flag: T?, _ envName: String, _ fromFile: T?, _ d: T) throws -> T {
            if let f = flag { return f }
            if let s = e(envName) {
                guard let v = T(s) else { throw SettingsError("\(envName)='\(s)' is not a number") }
                return v
            }
            return fromFile ?? d
        }
        let listenText = listen ?? e("VOLUMED_LISTEN") ?? file.listen ?? Settings.defaultListen
        let (host, port) = try Settings.parseListen(listenText)
        var limits = ServerLimits()
        limits.maxJSONBytes = try number(maxJSONBytes, "VOLUMED_MAX_JSON_BYTES", file.max_json_bytes, limits.maxJSONBytes)
        limits.maxBatchBytes = try number(maxBatchBytes, "VOLUMED_MAX_BATCH_BYTES", file.max_batch_bytes, limits.maxBatchBytes)
        limits.maxImportBytes = min(phase1BlobLimit, try number(maxImportBytes, "VOLUMED_MAX_IMPORT_BYTES", file.max_import_bytes, phase1BlobLimit))
        let maxFile = try number(maxFileBytes, "VOLUMED_MAX_FILE_BYTES", file.max_file_bytes, Int64(0))
        limits.maxFileBytes = maxFile > 0 ? maxFile : nil
        limits.watchHeartbeatSeconds = try number(watchHeartbeat, "VOLUMED_WATCH_HEARTBEAT", file.watch_heartbeat_seconds, limits.watchHeartbeatSeconds)
        guard limits.watchHeartbeatSeconds > 0 else { throw SettingsError("--watch-heartbeat must be positive") }
        limits.tenantNamespacePid = tenantNamespacePid || e("VOLUMED_TENANT_NAMESPACE_PID") == "1" || file.tenant_namespace_pid == true
        var s = Settings(
            dataDir: URL(fileURLWithPath: dataDir ?? e("VOLUMED_DATA_DIR") ?? file.data_dir ?? Settings.defaultDataDir(env)),
            listenHost: host, listenPort: port,
            socket: socket ?? e("VOLUMED_SOCKET") ?? file.socket,
            addressFile: addressFile ?? e("VOLUMED_ADDRESS_FILE") ?? file.address_file,
            threads: try number(threads, "VOLUMED_THREADS", file.threads, 32),
            idleCloseSeconds: try number(idleClose, "VOLUMED_IDLE_CLOSE", file.idle_close_seconds, 60),
            drainSeconds: try number(drain, "VOLUMED_DRAIN", file.drain_seconds, 30),
            idleTimeoutSeconds: try number(idleTimeout, "VOLUMED_IDLE_TIMEOUT", file.idle_timeout_seconds, 60),
            limits: limits,
            uploadExpirySeconds: try number(uploadExpiry, "VOLUMED_UPLOAD_EXPIRY", file.upload_expiry_seconds, 86400),
            signingSecret: signingSecret ?? e("VOLUMED_SIGNING_SECRET") ?? file.signing_secret,
            gcInterval: try number(gcInterval, "VOLUMED_GC_INTERVAL", file.gc_interval_seconds, 3600),
            gcGrace: try number(gcGrace, "VOLUMED_GC_GRACE", file.gc_grace_seconds, VolumeStore.defaultGrace),
            journalKeepEvents: try number(journalKeepEvents, "VOLUMED_JOURNAL_KEEP_EVENTS", file.journal_keep_events, Volume.journalRetainEvents),
            journalKeepSeconds: try number(journalKeepSeconds, "VOLUMED_JOURNAL_KEEP_SECONDS", file.journal_keep_seconds, Volume.journalRetainSeconds))
        s.mountLauncher = mountLauncher ?? e("VOLUMED_MOUNT_LAUNCHER").map { $0 != "0" } ?? file.mount_launcher ?? true
        guard s.uploadExpirySeconds > 0 else { throw SettingsError("--upload-expiry must be positive") }
        guard s.gcInterval >= 0, s.gcGrace >= 0, s.journalKeepEvents >= 0, s.journalKeepSeconds >= 0 else {
            throw SettingsError("--gc-interval, --gc-grace and the journal retention must not be negative")
        }
        guard (1...1024).contains(s.threads) else { throw SettingsError("threads must be from 1 to 1024") }
        guard s.idleCloseSeconds >= 0, s.drainSeconds >= 0, s.idleTimeoutSeconds > 0 else { throw SettingsError("durations must be positive") }
        guard s.limits.maxJSONBytes > 0, s.limits.maxImportBytes > 0, s.limits.maxBatchBytes > 0 else { throw SettingsError("limits must be positive") }
        return s
    }

    func run() async throws {
        let s: Settings
        do { s = try settings() } catch let e as SettingsError { throw ValidationError(e.description) }
        var logger = Logger(label: "volumed") { LazyMetadataLogHandler(label: $0) }
        logger.logLevel = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0) } ?? .info

        FileLimit.raise()
        if let m = MallocPolicy.apply() { logger.info("\(m)") }
        let store: VolumeStore
        let keyFile: URL
        let transfers: Transfers
        do {
            store = try VolumeStore(dataDir: s.dataDir)
            let (path, created) = try OperatorKeyFile.ensure(store: store)
            keyFile = path
            if created { logger.notice("wrote a new operator key to \(path.path)") }
            transfers = try Transfers(dataDir: s.dataDir, uploadExpirySeconds: s.uploadExpirySeconds, signingSecret: s.signingSecret)
        } catch {
            FileHandle.standardError.write(Data("volumed: \(error)\n".utf8))
            throw ExitCode(70)
        }
        let host = VolumeHost(store: store, idleSeconds: s.idleCloseSeconds)
        let bridge = BlockingBridge(threads: s.threads)
        let housekeeper = Housekeeper(host: host, grace: s.gcGrace, journalKeepEvents: s.journalKeepEvents, journalKeepSeconds: s.journalKeepSeconds)
        let env = ProcessInfo.processInfo.environment
        let mountRootPath = mountRoot ?? env["VOLUMED_MOUNT_ROOT"].flatMap { $0.isEmpty ? nil : $0 } ?? s.dataDir.appendingPathComponent("mounts").path
        let supervisor = MountSupervisor(store: store, mountRoot: URL(fileURLWithPath: mountRootPath).standardizedFileURL,
                                         volumectl: volumectlPath ?? env["VOLUMED_VOLUMECTL"].flatMap { $0.isEmpty ? nil : $0 } ?? MountSupervisor.siblingVolumectl(),
                                         warmLauncher: s.mountLauncher)
        let runtimeName = sandboxRuntime ?? env["VOLUMED_SANDBOX_RUNTIME"].flatMap { $0.isEmpty ? nil : $0 } ?? "none"
        var runtime: (any SandboxRuntime)?
        switch runtimeName {
        case "none": runtime = nil
        case "bwrap":
            guard let bwrap = BubblewrapRuntime.findOnPath() else {
                throw ValidationError("--sandbox-runtime bwrap: no bwrap on PATH (apt-get install bubblewrap)")
            }
            runtime = BubblewrapRuntime(bwrap: bwrap, stateDir: s.dataDir.appendingPathComponent("runtime/state"))
        default: throw ValidationError("--sandbox-runtime must be bwrap or none, not '\(runtimeName)'")
        }
        let runner = SandboxRunner(runtime: runtime, records: RuntimeRecords(dir: s.dataDir.appendingPathComponent("runtime")), supervisor: supervisor)
        var server = VolumeServer(host: host, bridge: bridge, limits: s.limits, housekeeper: housekeeper,
                                  gcInterval: s.gcInterval > 0 ? s.gcInterval : nil, supervisor: supervisor, runner: runner)
        server.transfers = transfers
        let router = server.router()
        if printRoutes {
            // The contract test compares these with Docs/openapi.yaml.
            for r in router.routes { Output.line("\(r.method) \(r.path)") }
            try await bridge.run { try host.close() }
            try? await bridge.shutdown()
            return
        }
        // Before listening: converge the attachment records with the kernel's mount table.
        do {
            try FileManager.default.createDirectory(at: supervisor.mountRoot, withIntermediateDirectories: true)
            if let launcher = supervisor.launcher {
                if launcher.start() {
                    Output.line("volumed: mount launcher started (pid \(launcher.launcherPID))")
                } else {
                    logger.warning("the mount launcher did not start; mount servers are started one by one (see \(launcher.log))")
                }
            }
            // Sandboxes first (one whose processes are gone is destroyed), then their mounts.
            let sandboxes = try await bridge.run { try runner.reconcile() }
            Output.line("volumed: reconciled sandboxes: \(sandboxes)")
            let report = try await bridge.run { try supervisor.reconcile() }
            Output.line("volumed: reconciled attachments: \(report)")
        } catch {
            FileHandle.standardError.write(Data("volumed: reconciling attachments failed: \(error)\n".utf8))
            throw ExitCode(70)
        }
        let responder = router.buildResponder()
        let http = HTTPServerBuilder.http1(configuration: .init(idleTimeout: .milliseconds(Int64(s.idleTimeoutSeconds * 1000))))

        var services: [any Service] = []
        let addressFile = s.addressFile
        // Connections and handlers run on the handlers' executor (`HandlerExecutor`), not Swift's shared pool.
        let handlers = HandlerExecutor()
        services.append(ExecutorPreferringService(service: Application(
            responder: responder, server: http,
            configuration: .init(address: .hostname(s.listenHost, port: s.listenPort), serverName: "volumed"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? s.listenPort
                let h = s.listenHost.contains(":") ? "[\(s.listenHost)]" : s.listenHost
                let url = "http://\(h):\(port)"
                if let f = addressFile { try? Data((url + "\n").utf8).write(to: URL(fileURLWithPath: f), options: .atomic) }
                Output.line("volumed: listening on \(url)")
                Output.line("volumed: data directory \(s.dataDir.path); operator key in \(keyFile.path)")
            },
            logger: logger), executor: handlers))
        if let socket = s.socket {
            unlink(socket)  // a stale socket from a previous run
            services.append(ExecutorPreferringService(service: Application(
                responder: responder, server: http,
                configuration: .init(address: .unixDomainSocket(path: socket), serverName: "volumed"),
                onServerRunning: { _ in Output.line("volumed: listening on unix:\(socket)") },
                logger: logger), executor: handlers))
        }
        // The chores below log through a copy (`logger` is a var, which a @Sendable job cannot capture).
        let log = logger
        // Expired resumable uploads and their bytes go, at start and every few seconds.
        let uploads = transfers.uploads
        services.append(PeriodicService(bridge: bridge, interval: max(0.5, min(60, s.uploadExpirySeconds / 4)), runAtStart: true) {
            let (n, bytes) = uploads.sweep()
            if n > 0 || bytes > 0 { log.info("swept \(n) expired upload(s), \(bytes) bytes") }
        })
        // Catalogs nobody used for --idle-close seconds are closed.
        services.append(PeriodicService(bridge: bridge, interval: max(0.5, min(30, s.idleCloseSeconds / 2))) { host.closeIdle() })
        if s.gcInterval > 0 {
            // gc and journal trimming every --gc-interval seconds (the first one interval after start).
            services.append(PeriodicService(bridge: bridge, interval: s.gcInterval) {
                let r = housekeeper.run()
                if let e = r.error {
                    log.error("housekeeping failed: \(e)")
                } else if let gc = r.gc {
                    log.info("gc freed \(gc.bytesFreed) bytes in \(gc.chunksDeleted) chunks (\(gc.chunksInGrace) in grace, \(gc.volumesScanned) volumes); journal rows trimmed: \(r.journalRowsTrimmed)")
                }
            })
        }
        services.append(WatchCloser(hub: server.watches))
        // A sandbox whose namespace process ends: its placed attachments become sandbox_gone within a second.
        services.append(NamespaceWatchService(supervisor: supervisor, bridge: bridge, interval: 1, logger: logger))

        var config = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        config.maximumGracefulShutdownDuration = .milliseconds(Int64(s.drainSeconds * 1000))
        config.maximumCancellationDuration = .seconds(5)
        let group = ServiceGroup(configuration: config)
        var failed = false
        do {
            try await group.run()
        } catch {
            logger.error("the server stopped with an error: \(error)")
            failed = true
        }
        // Every request is done (or was cancelled): commit and close every volume.
        do {
            try await bridge.run { try host.close() }
        } catch {
            logger.error("closing volumes failed: \(error)")
            failed = true
        }
        try? await bridge.shutdown()
        try? await handlers.shutdown()
        supervisor.launcher?.stop()
        if let socket = s.socket { unlink(socket) }
        Output.line("volumed: stopped")
        if failed { throw ExitCode(70) }
    }
}

/// Lines on stdout, written at once (stdout is a pipe under tests and systemd).
enum Output {
    static func line(_ s: String) { FileHandle.standardOutput.write(Data((s + "\n").utf8)) }
}
