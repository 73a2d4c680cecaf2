// Who an entry belongs to (a uid and a gid), and the files API's `user` text that names it.

/// The owner of an entry a write creates: a numeric uid and gid.
///
/// Parsed from the files API's `user` (the reference's `WriteEntry.user`): `root`, `UID` (the gid
/// is the same number) or `UID:GID`, decimal. Names other than `root` are not resolved: the users
/// of a volume are those of the sandboxes that mount it, not of the host that runs the daemon, so a
/// host's `/etc/passwd` would give the wrong answer.
public struct FileOwner: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var uid: UInt32
    public var gid: UInt32

    public init(uid: UInt32, gid: UInt32) { self.uid = uid; self.gid = gid }

    /// uid 0, gid 0: what writes create unless told otherwise.
    public static let root = FileOwner(uid: 0, gid: 0)

    /// The largest id accepted: 4294967295 is `(uid_t)-1`, which means "unchanged" to `chown`.
    public static let maxID: UInt32 = UInt32.max - 1

    /// Parses `root`, `UID` or `UID:GID`; anything else is `invalidArgument` naming the forms.
    public init(parsing text: String) throws {
        if text == "root" {
            self = .root
            return
        }
        func id(_ s: Substring) -> UInt32? {
            guard !s.isEmpty, s.count <= 10, s.allSatisfy({ $0 >= "0" && $0 <= "9" }), let v = UInt64(s), v <= UInt64(Self.maxID) else { return nil }
            return UInt32(v)
        }
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard let u = parts.first.flatMap(id), parts.count == 1 || id(parts[1]) != nil else {
            let shown = text.count > 40 ? String(text.prefix(40)) + "..." : text
            throw VolumeError.invalidArgument("unknown user '\(shown)': give 'root' or a numeric uid[:gid] like 1000 or 1000:1000 (names are not looked up: a volume's users are its sandboxes', not this host's)")
        }
        self.init(uid: u, gid: parts.count == 2 ? id(parts[1])! : u)
    }

    /// Acting as this owner (ownership of what a write creates), with `origin` as the change's tag.
    public func caller(origin: Int = 0) -> Caller { Caller(uid: uid, gid: gid, origin: origin) }

    /// `UID:GID`.
    public var description: String { "\(uid):\(gid)" }
}
