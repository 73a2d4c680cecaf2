// From the core's values to the wire types of VolumeAPI.
import VolumeAPI
import VolumeCore

extension VolumeResponse {
    init(_ i: VolumeInfo) {
        self.init(volumeId: i.volumeId, ownerId: i.ownerId, name: i.name, blobKey: nil, sizeBytes: i.sizeBytes,
                  contentType: "application/gzip", metadata: i.metadata, createdAt: i.createdAt, fileCount: i.fileCount,
                  quotaBytes: i.quotaBytes, usedBytes: i.sizeBytes)
    }
}

extension EntryResponse {
    init(_ e: EntryInfo) {
        self.init(name: e.name, type: e.type, size: e.size, path: e.path, mode: e.mode, modified: e.modified, target: e.target,
                  uid: e.uid, gid: e.gid)
    }
}

extension ImportSummary {
    init(_ r: ImportReport) {
        self.init(files: r.files, directories: r.directories, bytes: r.bytes, inputBytes: r.inputBytes, droppedCount: r.droppedCount,
                  dropped: r.dropped.map { DroppedEntryResponse(entry: $0.entry, path: $0.path, reason: $0.reason) },
                  droppedTruncated: r.droppedTruncated, replaced: r.replaced)
    }
}

extension KeyResponse {
    init(_ k: APIKeyInfo) {
        self.init(id: k.id, tenant: k.tenant, role: k.role.rawValue, createdAt: k.createdAt, expiresAt: k.expiresAt,
                  revokedAt: k.revokedAt, active: k.active)
    }
}
