// Attachments as durable registry records: attach (idempotent), detach, list, and state transitions with reasons.
import Foundation
import GRDB

extension VolumeStore {
    /// Attaches a volume to a sandbox; returns the record (state `released`, reason `pending`, until
    /// the daemon mounts it and calls `markAttachment(_:state: .mounted, ...)`).
    ///
    /// Idempotent: the same volume at the same `mount_path` with the same options returns the
    /// existing record. Errors: the sandbox missing or another tenant's (`notFound`) or destroyed
    /// (`conflict`); the volume missing (`notFound`) or another tenant's (`forbidden`, 403); the
    /// subpath missing, not a directory or through a symlink (`invalidSubpath`); another attachment
    /// at that `mount_path` (`conflict`, 409); more than `StoreOptions.maxAttachmentsPerSandbox`
    /// attachments (`tooManyAttachments`).
    public func attach(sandbox sandboxID: String, owner: String?, _ request: AttachmentRequest) throws -> Attachment {
        let sbx = try sandbox(sandboxID, owner: owner)
        let checked = try attachable(request, tenant: sbx.ownerId)
        return try registry.write { db in try insertAttachment(db, sandbox: sbx.id, checked) }
    }

    /// Detaches: the intent goes (a resume no longer remounts it), its mount lease is released, and
    /// the record stays, `released` with reason `detached`. Detaching again returns the same record.
    public func detach(sandbox sandboxID: String, attachment id: String, owner: String?) throws -> Attachment {
        _ = try sandbox(sandboxID, owner: owner)
        let now = clock.now().timeIntervalSince1970
        return try registry.write { db in
            guard let a = try Self.attachment(db, id), a.sandboxId == sandboxID else {
                throw VolumeError.notFound("attachment '\(id)' of sandbox \(sandboxID)")
            }
            if a.detachedAt != nil { return a }
            try db.execute(sql: "DELETE FROM lease WHERE attachment_id = ?", arguments: [id])
            try db.execute(sql: """
                UPDATE attachment SET state = 'released', reason = ?, message = ?, served_by = NULL, updated_at = ?, detached_at = ?
                WHERE id = ?
                """, arguments: [AttachmentReason.detached.rawValue, "detached from sandbox \(sandboxID)", now, now, id])
            return try Self.attachment(db, id)!
        }
    }

    /// Records an attachment's transition to `state`, with a reason code and a message.
    ///
    /// `mounted` needs `servedBy`, the process serving the mount: it takes a shared mount lease of the
    /// volume held by that process (so deleting or importing into the volume sees it), replacing
    /// any lease the attachment had. `released` and `failed` release its lease. A detached
    /// attachment, or one of a destroyed sandbox, cannot become `mounted` (`conflict`).
    @discardableResult
    public func markAttachment(_ id: String, state: AttachmentState, reason: AttachmentReason, message: String = "",
                               servedBy: LeaseHolder? = nil, hostPath: String? = nil) throws -> Attachment {
        if state == .mounted && servedBy == nil {
            throw VolumeError.invalidArgument("a mounted attachment needs the process that serves it")
        }
        let now = clock.now()
        return try registry.write { db in
            guard let a = try Self.attachment(db, id) else { throw VolumeError.notFound("attachment '\(id)'") }
            try db.execute(sql: "DELETE FROM lease WHERE attachment_id = ?", arguments: [id])
            if state == .mounted, let servedBy {
                if a.detachedAt != nil { throw VolumeError.conflict("attachment \(id) was detached; attach the volume again") }
                let sbx = try String.fetchOne(db, sql: "SELECT state FROM sandbox WHERE id = ?", arguments: [a.sandboxId])
                if sbx == SandboxState.destroyed.rawValue {
                    throw VolumeError.conflict("sandbox \(a.sandboxId) is destroyed; its attachments cannot be mounted")
                }
                _ = try acquireLease(db, volume: a.volumeId, purpose: .mount, mode: .shared, holder: servedBy,
                                     ttl: Self.defaultLeaseTTL, attachment: id)
            }
            try db.execute(sql: """
                UPDATE attachment SET state = ?, reason = ?, message = ?, served_by = ?, host_path = ?, updated_at = ?
                WHERE id = ?
                """, arguments: [state.rawValue, reason.rawValue, message, state == .mounted ? try Self.encodeHolder(servedBy) : nil,
                                 hostPath, max(now.timeIntervalSince1970, a.createdAt.timeIntervalSince1970), id])
            return try Self.attachment(db, id)!
        }
    }

    /// One attachment record.
    public func attachment(_ id: String) throws -> Attachment {
        guard let a = try registry.read({ db in try Self.attachment(db, id) }) else { throw VolumeError.notFound("attachment '\(id)'") }
        return a
    }

    /// A sandbox's attachments, oldest first (detached ones only when asked).
    public func attachments(sandbox sandboxID: String, owner: String?, includeDetached: Bool = false) throws -> [Attachment] {
        _ = try sandbox(sandboxID, owner: owner)
        return try registry.read { db in
            try Row.fetchAll(db, sql: """
                SELECT * FROM attachment WHERE sandbox_id = ? AND (? OR detached_at IS NULL) ORDER BY created_at, rowid
                """, arguments: [sandboxID, includeDetached]).map(Self.attachment(from:))
        }
    }

    /// The attachments of a volume (in sandboxes of `owner`, or all for the operator), oldest first.
    /// The records outlive the volume: after its deletion they are still listed.
    public func attachments(volume volumeID: String, owner: String?, includeDetached: Bool = false) throws -> [Attachment] {
        try registry.read { db in
            try Row.fetchAll(db, sql: """
                SELECT attachment.* FROM attachment JOIN sandbox ON sandbox.id = attachment.sandbox_id
                WHERE attachment.volume_id = ? AND (? IS NULL OR sandbox.owner_id = ?) AND (? OR attachment.detached_at IS NULL)
                ORDER BY attachment.created_at, attachment.rowid
                """, arguments: [volumeID, owner, owner, includeDetached]).map(Self.attachment(from:))
        }
    }

    // MARK: Helpers

    /// Checks what an attach can check before its transaction: the volume is `tenant`'s, and the
    /// subpath is a directory reached without symlinks. Returns the request with its subpath normalised.
    func attachable(_ request: AttachmentRequest, tenant: String) throws -> AttachmentRequest {
        let found = try registry.read { db in
            try Row.fetchOne(db, sql: "SELECT owner_id FROM volume WHERE id = ? AND state = 'active'", arguments: [request.volumeId])
        }
        guard let found else { throw VolumeError.notFound("volume '\(request.volumeId)'") }
        guard (found["owner_id"] as String) == tenant else {
            throw VolumeError.forbidden("volume \(request.volumeId) belongs to another tenant; a sandbox of \(tenant) cannot attach it")
        }
        var checked = request
        checked.subpath = try volume(request.volumeId, owner: nil).resolveSubpath(request.subpath).path
        return checked
    }

    /// Adds (or finds, when the same request was made before) an attachment inside a transaction.
    func insertAttachment(_ db: Database, sandbox sandboxID: String, _ request: AttachmentRequest) throws -> Attachment {
        let sbxState = try String.fetchOne(db, sql: "SELECT state FROM sandbox WHERE id = ?", arguments: [sandboxID])
        guard let sbxState else { throw VolumeError.notFound("sandbox '\(sandboxID)'") }
        if sbxState == SandboxState.destroyed.rawValue {
            throw VolumeError.conflict("sandbox \(sandboxID) is destroyed; nothing can be attached to it")
        }
        if let row = try Row.fetchOne(db, sql: """
            SELECT * FROM attachment WHERE sandbox_id = ? AND mount_path = ? AND detached_at IS NULL
            """, arguments: [sandboxID, request.mountPath.path]) {
            let existing = Self.attachment(from: row)
            if existing.request == request { return existing }
            let e = existing
            throw VolumeError.conflict("sandbox \(sandboxID) already has attachment \(e.id) at \(e.mountPath): volume \(e.volumeId)"
                                       + "\(e.readOnly ? ", read-only" : ", read-write"), subpath \(e.subpath); detach it first")
        }
        let count = try Int.fetchOne(db, sql: "SELECT count(*) FROM attachment WHERE sandbox_id = ? AND detached_at IS NULL",
                                     arguments: [sandboxID]) ?? 0
        let limit = options.maxAttachmentsPerSandbox
        guard count < limit else {
            throw VolumeError.tooManyAttachments("sandbox \(sandboxID) already has \(count) attachments, the most a sandbox may have (\(limit)); detach one first")
        }
        switch try String.fetchOne(db, sql: "SELECT state FROM volume WHERE id = ?", arguments: [request.volumeId]) {
        case "active"?: break
        case "deleting"?: throw VolumeError.conflict("volume \(request.volumeId) is being deleted")
        default: throw VolumeError.notFound("volume '\(request.volumeId)'")
        }
        let now = clock.now().timeIntervalSince1970
        let id = "att-" + Self.randomID()
        let inNamespace = try Bool.fetchOne(db, sql: "SELECT namespace_pid IS NOT NULL FROM sandbox WHERE id = ?", arguments: [sandboxID]) ?? false
        try db.execute(sql: """
            INSERT INTO attachment (id, sandbox_id, volume_id, mount_path, read_only, subpath, state, reason, message, created_at, updated_at, delivery)
            VALUES (?, ?, ?, ?, ?, ?, 'released', ?, ?, ?, ?, ?)
            """, arguments: [id, sandboxID, request.volumeId, request.mountPath.path, request.readOnly, request.subpath,
                             AttachmentReason.pending.rawValue, "recorded; not mounted yet", now, now,
                             (inNamespace ? AttachmentDelivery.namespace : .hostPath).rawValue])
        return try Self.attachment(db, id)!
    }

    static func attachment(_ db: Database, _ id: String) throws -> Attachment? {
        try Row.fetchOne(db, sql: "SELECT * FROM attachment WHERE id = ?", arguments: [id]).map(attachment(from:))
    }

    static func attachment(from r: Row) -> Attachment {
        let served = (r["served_by"] as String?).flatMap { try? JSONDecoder().decode(LeaseHolder.self, from: Data($0.utf8)) }
        let detached = (r["detached_at"] as Double?).map(Date.init(timeIntervalSince1970:))
        return Attachment(id: r["id"], sandboxId: r["sandbox_id"], volumeId: r["volume_id"],
                          mountPath: (try? MountPath(r["mount_path"])) ?? MountPath(unchecked: r["mount_path"]),
                          readOnly: r["read_only"], subpath: r["subpath"], state: AttachmentState(rawValue: r["state"]) ?? .failed,
                          reason: AttachmentReason(r["reason"]), message: r["message"], servedBy: served, hostPath: r["host_path"],
                          delivery: AttachmentDelivery(rawValue: (r["delivery"] as String?) ?? "") ?? .hostPath,
                          createdAt: Date(timeIntervalSince1970: r["created_at"]), updatedAt: Date(timeIntervalSince1970: r["updated_at"]),
                          detachedAt: detached)
    }

    static func encodeHolder(_ h: LeaseHolder?) throws -> String? {
        guard let h else { return nil }
        let enc = JSONEncoder()
        enc.outputFormatting = .sortedKeys
        return String(decoding: try enc.encode(h), as: UTF8.self)
    }
}
