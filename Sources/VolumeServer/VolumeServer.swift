// Builds the daemon's router: error and auth middleware, then the volume, files and admin routes over one host and bridge.
import Foundation
import Hummingbird
import SandboxRuntime
import VolumeCore

/// The HTTP API over a `VolumeHost`. `volumed` serves `router()` on its TCP listener and its Unix socket.
public struct VolumeServer: Sendable {
    public let host: VolumeHost
    public let bridge: BlockingBridge
    public let limits: ServerLimits
    public let version: String
    /// Resumable uploads and signed URLs (DATA_DIR/uploads, the signing secret); nil: made from the store's data directory.
    public var transfers: Transfers?
    /// The watch streams' pollers (one per watched volume); `close()` it at shutdown.
    public let watches: WatchHub
    /// Scheduled gc and journal trimming (volumed runs it every `gcInterval` seconds).
    public let housekeeper: Housekeeper
    public let gcInterval: Double?
    /// The Prometheus registry behind `GET /metrics`.
    public let metrics = ServerMetrics()

    /// Mounts sandboxes' attachments; without one the sandbox routes are not served.
    public let supervisor: MountSupervisor?
    /// Runs the processes of sandboxes created with a runtime; by default one with no runtime.
    public let runner: SandboxRunner?

    public init(host: VolumeHost, bridge: BlockingBridge, limits: ServerLimits = ServerLimits(), version: String = "0.1.0",
                housekeeper: Housekeeper? = nil, gcInterval: Double? = nil, supervisor: MountSupervisor? = nil,
                runner: SandboxRunner? = nil) {
        self.supervisor = supervisor
        self.runner = runner ?? supervisor.map {
            SandboxRunner(runtime: nil, records: RuntimeRecords(dir: host.store.dataDir.appendingPathComponent("runtime")), supervisor: $0)
        }
        self.host = host
        self.bridge = bridge
        self.limits = limits
        self.version = version
        watches = WatchHub(host: host, bridge: bridge, heartbeat: limits.watchHeartbeatSeconds)
        self.housekeeper = housekeeper ?? Housekeeper(host: host)
        self.gcInterval = gcInterval
    }

    /// Every route, behind the JSON error middleware (outermost) and the key check.
    public func router() -> Router<VolumeRequestContext> {
        let router = Router(context: VolumeRequestContext.self)
        let table = RouteTable()
        router.add(middleware: RequestMetricsMiddleware(metrics: metrics))
        router.add(middleware: ErrorMiddleware<VolumeRequestContext>(routes: table))
        router.add(middleware: AuthMiddleware(host: host, bridge: bridge))
        OpenAPIRoutes().register(on: router)
        AdminRoutes(host: host, bridge: bridge, limits: limits, version: version).register(on: router)
        VolumeRoutes(host: host, bridge: bridge, limits: limits, supervisor: supervisor).register(on: router)
        FileRoutes(host: host, bridge: bridge, limits: limits).register(on: router)
        ArchiveRoutes(host: host, bridge: bridge, limits: limits).register(on: router)
        if let t = transfers ?? (try? Transfers(dataDir: host.store.dataDir)) {
            TusRoutes(host: host, bridge: bridge, limits: limits, uploads: t.uploads).register(on: router)
            SignedURLRoutes(host: host, bridge: bridge, limits: limits, signer: t.signer).register(on: router)
        }
        WatchRoutes(host: host, bridge: bridge, hub: watches).register(on: router)
        AdminOpsRoutes(host: host, bridge: bridge, limits: limits, housekeeper: housekeeper, gcInterval: gcInterval).register(on: router)
        MetricsRoutes(host: host, bridge: bridge, metrics: metrics, watches: watches, housekeeper: housekeeper).register(on: router)
        if let supervisor, let runner {
            SandboxRoutes(host: host, bridge: bridge, limits: limits, supervisor: supervisor, runner: runner).register(on: router)
            AttachmentRoutes(host: host, bridge: bridge, limits: limits, supervisor: supervisor).register(on: router)
        }
        // Register every route above this line: the table answers 405 for the methods a path lacks.
        table.record(router)
        return router
    }
}
