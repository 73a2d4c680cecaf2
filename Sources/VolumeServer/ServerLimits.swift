// The request limits the daemon enforces, set from its flags.

/// Limits on what one request may send.
public struct ServerLimits: Sendable {
    /// A JSON body's size.
    public var maxJSONBytes: Int = 1 << 20
    /// A tar.gz body for `POST /v1/volumes` (the contract: 4 GiB).
    public var maxImportBytes: Int64 = 4 << 30
    /// A file body for `PUT .../files/content` (the volume's cap applies in any case); nil: no limit.
    public var maxFileBytes: Int64? = nil
    /// A multipart batch write (held in memory: the core writes a batch in one transaction).
    public var maxBatchBytes: Int = 64 << 20
    /// A file body with a Content-Length up to this is read whole and written in one step (one call on
    /// the bridge, no streaming import); longer ones, and bodies without a length, stream. 1 MiB: what a
    /// download reads per piece, less than the 4 MiB block the streaming import would allocate for it.
    public var smallWriteBytes: Int = 1 << 20
    /// Bytes per read from the core when a file streams out.
    public var readChunkBytes: Int = 1 << 20
    /// Seconds between heartbeat comments on an idle watch stream.
    public var watchHeartbeatSeconds: Double = 15
    /// Whether tenant keys may give `namespace_pid` (the daemon, as root, places mounts in that
    /// process's mount namespace); by default only operator keys, the host's sandbox manager, may.
    public var tenantNamespacePid = false

    /// Refuses a `namespace_pid` sent with a tenant key unless `tenantNamespacePid` (403).
    func allowNamespacePid(_ pid: Int32?, from caller: Principal) throws {
        guard pid != nil, caller.role == .tenant, !tenantNamespacePid else { return }
        throw APIFailure("forbidden", "namespace_pid is the host's sandbox manager's to give: send it with an operator key "
                         + "(and 'X-Tenant: TENANT'), or start volumed with --tenant-namespace-pid on a host where every tenant key is a trusted sandbox manager's")
    }

    public init() {}
}
