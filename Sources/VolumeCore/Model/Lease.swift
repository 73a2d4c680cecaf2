// Leases as the registry records them: who holds which volume for what, shared or exclusive, until when.
import Foundation

/// What a lease holds a volume for.
public enum LeasePurpose: String, Codable, Sendable, CaseIterable {
    case mount, `import`, delete, write

    /// The mode a lease of this purpose takes unless told otherwise: deletion is exclusive, the rest shared.
    public var defaultMode: LeaseMode { self == .delete ? .exclusive : .shared }
}

/// Shared leases of a volume coexist; an exclusive one excludes every other live lease of the volume.
public enum LeaseMode: String, Codable, Sendable {
    case shared, exclusive
}

/// Who holds a lease: a process on a host (`ProcessIdentity`: boot ID, pid, start time).
public struct LeaseHolder: Codable, Sendable, Hashable, CustomStringConvertible {
    /// The host's ID (`/etc/machine-id`, else its host name).
    public var host: String
    public var process: ProcessIdentity

    public init(host: String, process: ProcessIdentity) {
        self.host = host
        self.process = process
    }

    /// This process on this host.
    public static var current: LeaseHolder { LeaseHolder(host: Liveness.localHost, process: .current) }

    public var description: String { "pid \(process.pid) on \(host)" }
}

/// A registry record: `holder` holds volume `volumeId` for `purpose` in `mode`.
///
/// A holder on this host (same boot) is alive exactly while its pid still has the start time it
/// had; a holder on another host is trusted until `expiresAt`, which `renew` moves on. A lease
/// whose holder is not alive is stale: the next acquire of that volume takes it over (deletes it).
public struct Lease: Codable, Sendable, Equatable {
    /// `lse-` and 20 characters.
    public var id: String
    public var volumeId: String
    public var purpose: LeasePurpose
    public var mode: LeaseMode
    public var holder: LeaseHolder
    public var acquiredAt: Date
    public var renewedAt: Date
    public var expiresAt: Date
    /// The attachment whose mount this lease is, if any.
    public var attachmentId: String?

    enum CodingKeys: String, CodingKey {
        case id = "lease_id", volumeId = "volume_id", purpose, mode, holder, acquiredAt = "acquired_at"
        case renewedAt = "renewed_at", expiresAt = "expires_at", attachmentId = "attachment_id"
    }
}
