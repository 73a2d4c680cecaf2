// Sandboxes as durable registry records: create with attachment intents, fork, and the state transitions.
import Foundation
import GRDB

extension VolumeStore {
    /// Records a new running sandbox of `owner` with its attachments (each as `attach` records it),
    /// all in one transaction: any refused attachment leaves no sandbox behind. `uid`/`gid` are the
    /// user its programs run as; `namespace` the process whose mount namespace receives the
    /// attachments (then each is delivered `namespace`; the caller checks the process).
    public func createSandbox(owner: String, attachments requests: [AttachmentRequest] = [], uid: UInt32? = nil, gid: UInt32? = nil,
                              namespace: ProcessIdentity? = nil) throws -> (sandbox: Sandbox, attachments: [Attachment]) {
        try Self.validate(owner: owner)
        let checked = try requests.map { try attachable($0, tenant: owner) }
        let now = clock.now().timeIntervalSince1970
        let id = "sbx-" + Self.randomID()
        return try registry.write { db in
            try db.execute(sql: """
                INSERT INTO sandbox (id, owner_id, state, created_at, updated_at, uid, gid, namespace_pid, namespace_start, namespace_boot)
                VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [id, owner, now, now, uid.map { Int64($0) }, gid.map { Int64($0) },
                                 namespace?.pid, namespace.map { Int64(bitPattern: $0.start) }, namespace?.boot])
            var made: [Attachment] = []
            for r in checked {
                let a = try insertAttachment(db, sandbox: id, r)
                if !made.contains(where: { $0.id == a.id }) { made.append(a) }
            }
            return (try Self.sandbox(db, id)!, made)
        }
    }

    /// Sets (or clears, with nil) the process whose mount namespace receives sandbox `id`'s
    /// attachments, and the delivery of each of its attachments to match. The caller places or
    /// unplaces the mounts.
    @discardableResult
    public func setSandboxNamespace(_ id: String, owner: String?, namespace: ProcessIdentity?) throws -> Sandbox {
        _ = try sandbox(id, owner: owner)
        let now = clock.now().timeIntervalSince1970
        return try registry.write { db in
            try db.execute(sql: """
                UPDATE sandbox SET namespace_pid = ?, namespace_start = ?, namespace_boot = ?, updated_at = max(?, created_at) WHERE id = ?
                """, arguments: [namespace?.pid, namespace.map { Int64(bitPattern: $0.start) }, namespace?.boot, now, id])
            try db.execute(sql: "UPDATE attachment SET delivery = ? WHERE sandbox_id = ?",
                           arguments: [namespace == nil ? AttachmentDelivery.hostPath.rawValue : AttachmentDelivery.namespace.rawValue, id])
            return try Self.sandbox(db, id)!
        }
    }

    /// A new running sandbox with the parent's attachment intents (new records, `released` and
    /// `pending` until the daemon mounts them) and its uid/gid; the parent keeps its own. The parent's
    /// namespace process is not copied: the new sandbox's manager gives its own (`namespace`).
    public func forkSandbox(_ parentID: String, owner: String?, namespace: ProcessIdentity? = nil) throws -> (sandbox: Sandbox, attachments: [Attachment]) {
        let parent = try sandbox(parentID, owner: owner)
        guard parent.state != .destroyed else { throw VolumeError.conflict("sandbox \(parentID) is destroyed; it cannot be forked") }
        let now = clock.now().timeIntervalSince1970
        let id = "sbx-" + Self.randomID()
        return try registry.write { db in
            try db.execute(sql: """
                INSERT INTO sandbox (id, owner_id, state, parent_id, created_at, updated_at, uid, gid, namespace_pid, namespace_start, namespace_boot)
                VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [id, parent.ownerId, parentID, now, now, parent.uid.map { Int64($0) }, parent.gid.map { Int64($0) },
                                 namespace?.pid, namespace.map { Int64(bitPattern: $0.start) }, namespace?.boot])
            let intents = try Row.fetchAll(db, sql: "SELECT * FROM attachment WHERE sandbox_id = ? AND detached_at IS NULL ORDER BY created_at, rowid",
                                           arguments: [parentID]).map(Self.attachment(from:))
            var made: [Attachment] = []
            for a in intents {
                let aid = "att-" + Self.randomID()
                try db.execute(sql: """
                    INSERT INTO attachment (id, sandbox_id, volume_id, mount_path, read_only, subpath, state, reason, message, created_at, updated_at, delivery)
                    VALUES (?, ?, ?, ?, ?, ?, 'released', ?, ?, ?, ?, ?)
                    """, arguments: [aid, id, a.volumeId, a.mountPath.path, a.readOnly, a.subpath,
                                     AttachmentReason.pending.rawValue, "forked from \(a.id) of \(parentID); not mounted yet", now, now,
                                     namespace == nil ? AttachmentDelivery.hostPath.rawValue : AttachmentDelivery.namespace.rawValue])
                made.append(try Self.attachment(db, aid)!)
            }
            return (try Self.sandbox(db, id)!, made)
        }
    }

    /// One sandbox; `notFound` when it does not exist or is another tenant's.
    public func sandbox(_ id: String, owner: String?) throws -> Sandbox {
        guard let s = try registry.read({ db in try Self.sandbox(db, id) }), owner == nil || s.ownerId == owner else {
            throw VolumeError.notFound("sandbox '\(id)'")
        }
        return s
    }

    /// The sandboxes of `owner` (all for the operator), oldest first; destroyed ones only when asked.
    public func sandboxes(owner: String?, includeDestroyed: Bool = false) throws -> [Sandbox] {
        try registry.read { db in
            try Row.fetchAll(db, sql: """
                SELECT * FROM sandbox WHERE (? IS NULL OR owner_id = ?) AND (? OR state <> 'destroyed') ORDER BY created_at, rowid
                """, arguments: [owner, owner, includeDestroyed]).map(Self.sandbox(from:))
        }
    }

    /// Moves a sandbox to `state` (the same state again changes nothing) and records what that does
    /// to its attachments:
    /// - pause, hibernate: each `mounted` attachment becomes `released` (reason `sandbox_paused` or
    ///   `sandbox_hibernated`) and its mount lease goes; the intent stays for the resume;
    /// - destroy: every attachment that is not detached becomes `released`, reason `sandbox_destroyed`;
    /// - resume (`running`): nothing here; the daemon remounts each intent and marks it `mounted` or
    ///   `failed` with the reason.
    /// Allowed: running → paused | hibernated | destroyed, paused → running | hibernated | destroyed,
    /// hibernated → running | destroyed; a destroyed sandbox stays destroyed (`conflict`).
    @discardableResult
    public func setSandboxState(_ id: String, owner: String?, to state: SandboxState) throws -> Sandbox {
        let current = try sandbox(id, owner: owner)
        if current.state == state { return current }
        let allowed: [SandboxState: Set<SandboxState>] = [
            .running: [.paused, .hibernated, .destroyed], .paused: [.running, .hibernated, .destroyed],
            .hibernated: [.running, .destroyed], .destroyed: [],
        ]
        let now = clock.now().timeIntervalSince1970
        return try registry.write { db in
            guard let s = try Self.sandbox(db, id) else { throw VolumeError.notFound("sandbox '\(id)'") }
            if s.state == state { return s }
            guard allowed[s.state]?.contains(state) == true else {
                throw VolumeError.conflict("sandbox \(id) is \(s.state.rawValue); it cannot become \(state.rawValue)")
            }
            let release: (reason: AttachmentReason, which: String)?
            switch state {
            case .paused: release = (.sandboxPaused, "state = 'mounted'")
            case .hibernated: release = (.sandboxHibernated, "state = 'mounted'")
            case .destroyed: release = (.sandboxDestroyed, "1")
            case .running: release = nil
            }
            if let release {
                try db.execute(sql: """
                    DELETE FROM lease WHERE attachment_id IN
                      (SELECT id FROM attachment WHERE sandbox_id = ? AND detached_at IS NULL AND \(release.which))
                    """, arguments: [id])
                try db.execute(sql: """
                    UPDATE attachment SET state = 'released', reason = ?, message = ?, served_by = NULL, updated_at = max(?, created_at)
                    WHERE sandbox_id = ? AND detached_at IS NULL AND \(release.which)
                    """, arguments: [release.reason.rawValue, "sandbox \(id) is \(state.rawValue)", now, id])
            }
            try db.execute(sql: "UPDATE sandbox SET state = ?, updated_at = max(?, created_at) WHERE id = ?",
                           arguments: [state.rawValue, now, id])
            return try Self.sandbox(db, id)!
        }
    }

    static func sandbox(_ db: Database, _ id: String) throws -> Sandbox? {
        try Row.fetchOne(db, sql: "SELECT * FROM sandbox WHERE id = ?", arguments: [id]).map(sandbox(from:))
    }

    static func sandbox(from r: Row) -> Sandbox {
        var namespace: ProcessIdentity?
        if let pid = r["namespace_pid"] as Int32?, let start = r["namespace_start"] as Int64?, let boot = r["namespace_boot"] as String? {
            namespace = ProcessIdentity(boot: boot, pid: pid, start: UInt64(bitPattern: start))
        }
        return Sandbox(id: r["id"], ownerId: r["owner_id"], state: SandboxState(rawValue: r["state"]) ?? .destroyed, parentId: r["parent_id"],
                       createdAt: Date(timeIntervalSince1970: r["created_at"]), updatedAt: Date(timeIntervalSince1970: r["updated_at"]),
                       namespace: namespace, uid: (r["uid"] as Int64?).map { UInt32(truncatingIfNeeded: $0) },
                       gid: (r["gid"] as Int64?).map { UInt32(truncatingIfNeeded: $0) })
    }
}
