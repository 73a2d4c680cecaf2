// gc: mark-and-sweep over every volume's catalog; deletes unreferenced chunks older than a grace period.
import Foundation

/// What a gc pass found and freed.
public struct GCReport: Codable, Sendable, Equatable {
    public var volumesScanned: Int
    public var chunksReferenced: Int
    public var chunksDeleted: Int
    public var bytesFreed: Int64
    /// Unreferenced chunks kept because they are younger than the grace period.
    public var chunksInGrace: Int
    public var dryRun: Bool

    enum CodingKeys: String, CodingKey {
        case volumesScanned = "volumes_scanned", chunksReferenced = "chunks_referenced", chunksDeleted = "chunks_deleted"
        case bytesFreed = "bytes_freed", chunksInGrace = "chunks_in_grace", dryRun = "dry_run"
    }
}

extension VolumeStore {
    /// The default grace period: chunks written in the last hour are never collected, so a writer
    /// whose catalog transaction has not committed yet never loses its chunks.
    public static let defaultGrace: TimeInterval = 3600

    /// Marks every chunk any volume references, then deletes the others that are older than `grace`.
    public func collectGarbage(grace: TimeInterval = VolumeStore.defaultGrace, dryRun: Bool = false,
                               now: Date = Date()) throws -> GCReport {
        try finishDeletions()
        var marked: Set<ChunkID> = []
        let ids = try allVolumeIDs()
        for id in ids { marked.formUnion(try volume(id, owner: nil).referencedChunks()) }
        var report = GCReport(volumesScanned: ids.count, chunksReferenced: marked.count, chunksDeleted: 0,
                              bytesFreed: 0, chunksInGrace: 0, dryRun: dryRun)
        let cutoff = now.addingTimeInterval(-grace)
        var doomed: [StoredChunk] = []
        try chunks.forEach { c in
            guard !marked.contains(c.id) else { return }
            if c.touched > cutoff { report.chunksInGrace += 1 } else { doomed.append(c) }
        }
        for c in doomed {
            if !dryRun { try chunks.delete(c.id) }
            report.chunksDeleted += 1
            report.bytesFreed += Int64(c.size)
        }
        // Small chunks share pack files: rewrite the mostly deleted ones to give their space back.
        if !dryRun && !doomed.isEmpty { _ = try chunks.compact() }
        return report
    }

    /// Runs fsck on one volume, or on every volume when `id` is nil.
    public func fsck(_ id: String? = nil, repair: Bool = false, verifyData: Bool = true) throws -> [FsckReport] {
        let ids = try id.map { [$0] } ?? allVolumeIDs()
        return try ids.map { try volume($0, owner: nil).fsck(repair: repair, verifyData: verifyData) }
    }
}
