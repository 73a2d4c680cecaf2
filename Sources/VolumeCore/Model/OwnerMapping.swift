// The owner swap of a mount: stored root shown as the sandbox's user, and that user's ids stored as root.

/// The ids a mount swaps between the catalog and the kernel, so that a volume filled as root (the
/// files API's default) is the sandbox user's own inside its mount.
///
/// `owner` is the sandbox's user (say 1000:1000). Presented to the kernel, uid 0 becomes
/// `owner.uid` and `owner.uid` becomes 0 (the same for gids); every other id is unchanged. Requests
/// go back the same way: a file created or `chown`ed to 1000:1000 inside the mount is stored as
/// 0:0. The swap is its own inverse, so no two stored ids ever show as one (nothing collides and
/// nothing is lost) and a round trip through the mount changes nothing. The kernel's permission
/// checks (`default_permissions`) run on the presented ids.
public struct OwnerMapping: Sendable, Equatable {
    public let owner: FileOwner

    public init(_ owner: FileOwner) { self.owner = owner }

    /// A uid as the other side sees it (the swap is its own inverse: both directions).
    @inline(__always) public func uid(_ u: UInt32) -> UInt32 { u == 0 ? owner.uid : u == owner.uid ? 0 : u }
    /// A gid as the other side sees it.
    @inline(__always) public func gid(_ g: UInt32) -> UInt32 { g == 0 ? owner.gid : g == owner.gid ? 0 : g }

    /// Stored attributes as the mount shows them.
    public func presented(_ a: Attributes) -> Attributes {
        var a = a
        a.uid = uid(a.uid)
        a.gid = gid(a.gid)
        return a
    }

    /// A caller of the mount as the catalog records it (what it creates is owned by these ids).
    public func stored(_ c: Caller) -> Caller { Caller(uid: uid(c.uid), gid: gid(c.gid), origin: c.origin) }
}
