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
    /// When writes in progress (a file held open, an import) set how far back chunks are kept,
    /// because they started before the grace period: the time since which every chunk was kept
    /// (ISO 8601). Nil when the grace period alone decided.
    public var writesInProgressSince: String? = nil

    enum CodingKeys: String, CodingKey {
        case volumesScanned = "volumes_scanned", chunksReferenced = "chunks_referenced", chunksDeleted = "chunks_deleted"
        case bytesFreed = "bytes_freed", chunksInGrace = "chunks_in_grace", dryRun = "dry_run"
        case writesInProgressSince = "writes_in_progress_since"
    }
}

extension VolumeStore {
    /// The default grace period: chunks written in the last hour are never collected, so a write
    /// that starts while gc runs never loses its chunks (writes already running hold theirs).
    public static let defaultGrace: TimeInterval = 3600

    /// Marks every chunk any volume references, then deletes the others that are older than `grace`
    /// and than every write in progress in a live process (`WriteHolds`), which keeps the chunks a
    /// writer stored and will reference at its commit, however long ago it started.
    public func collectGarbage(grace: TimeInterval = VolumeStore.defaultGrace, dryRun: Bool = false,
                               now: Date = Date()) throws -> GCReport {
        try finishDeletions()
        // Read before the marks: a write that starts later stores chunks newer than this.
        try holds.publish()
        var cutoff = now.addingTimeInterval(-grace)
        var writesSince: Date?
        if let w = WriteHolds.oldestLive(in: holds.dir), w < cutoff {
            cutoff = w
            writesSince = w
        }
        var marked: Set<ChunkID> = []
        let ids = try allVolumeIDs()
        for id in ids { marked.formUnion(try volume(id, owner: nil).referencedChunks()) }
        var report = GCReport(volumesScanned: ids.count, chunksReferenced: marked.count, chunksDeleted: 0,
                              bytesFreed: 0, chunksInGrace: 0, dryRun: dryRun)
        report.writesInProgressSince = writesSince.map { TimeText.iso($0) }
        var doomed: [StoredChunk] = []
        try chunks.forEach { c in
            guard !marked.contains(c.id) else { return }
            if c.touched >= cutoff { report.chunksInGrace += 1 } else { doomed.append(c) }
        }
        // A writer that stores the same content again while gc runs (to reference it) refreshes the
        // chunk's time past the cutoff: the delete looks at the time again and keeps it.
        for c in doomed {
            guard try dryRun || chunks.delete(c.id, ifTouchedBefore: cutoff) else {
                report.chunksInGrace += 1
                continue
            }
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
