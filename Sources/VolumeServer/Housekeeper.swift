// Housekeeping: scheduled gc (grace period and write holds as the CLI's) and journal trimming, with what each run freed.
import Foundation
import Synchronization
import VolumeCore

/// What one housekeeping run did.
public struct HousekeepingRun: Codable, Sendable {
    /// ISO 8601.
    public var startedAt: String
    public var finishedAt: String
    public var gc: GCReport?
    public var error: String?
    /// Journal rows trimmed past retention.
    public var journalRowsTrimmed: Int
    /// `finishedAt` as Unix seconds (for the metrics; not on the wire).
    public var finishedUnix: Double = 0

    enum CodingKeys: String, CodingKey {
        case startedAt = "started_at", finishedAt = "finished_at", gc, error, journalRowsTrimmed = "journal_rows_trimmed"
    }
}

/// Runs gc and journal trimming over the host's store; remembers the last run and running totals
/// (for the admin route and the metrics). Its methods block: call them through the bridge.
public final class Housekeeper: Sendable {
    let host: VolumeHost
    /// gc's grace period in seconds.
    public let grace: TimeInterval
    /// Journal retention: rows beyond the last `journalKeepEvents`, or older than `journalKeepSeconds`, go.
    public let journalKeepEvents: Int64
    public let journalKeepSeconds: Double

    public struct Totals: Sendable {
        public var runs = 0
        public var chunksDeleted = 0
        public var bytesFreed: Int64 = 0
        public var journalRowsTrimmed = 0
    }
    private let state = Mutex<(last: HousekeepingRun?, totals: Totals)>((nil, Totals()))
    /// One gc at a time (a scheduled and an admin one never overlap).
    private let running = Mutex(())

    public init(host: VolumeHost, grace: TimeInterval = VolumeStore.defaultGrace,
                journalKeepEvents: Int64 = 100_000, journalKeepSeconds: Double = 86_400) {
        self.host = host
        self.grace = grace
        self.journalKeepEvents = journalKeepEvents
        self.journalKeepSeconds = journalKeepSeconds
    }

    public var lastRun: HousekeepingRun? { state.withLock { $0.last } }
    public var totals: Totals { state.withLock { $0.totals } }

    /// One gc pass (`dryRun`: only reports). A real pass counts toward the totals.
    public func collectGarbage(dryRun: Bool, grace: TimeInterval? = nil) throws -> GCReport {
        let g = grace ?? self.grace
        let report = try running.withLock { _ in try host.withStore { try $0.collectGarbage(grace: g, dryRun: dryRun) } }
        if !dryRun {
            state.withLock { s in
                s.totals.chunksDeleted += report.chunksDeleted
                s.totals.bytesFreed += report.bytesFreed
            }
        }
        return report
    }

    /// Trims every volume's journal to the retention; returns the rows deleted.
    public func trimJournals() throws -> Int {
        try host.withStore { store in
            var n = 0
            for v in try store.listVolumes(owner: nil) {
                n += (try? host.withVolume(v.volumeId, owner: nil) {
                    try $0.trimJournal(keepEvents: journalKeepEvents, keepSeconds: journalKeepSeconds)
                }) ?? 0
            }
            return n
        }
    }

    /// A scheduled run: gc, then journal trimming; recorded as the last run.
    @discardableResult
    public func run() -> HousekeepingRun {
        let iso = ISO8601DateFormatter()
        iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let start = iso.string(from: Date())
        var r = HousekeepingRun(startedAt: start, finishedAt: start, gc: nil, error: nil, journalRowsTrimmed: 0)
        do {
            r.gc = try collectGarbage(dryRun: false)
            r.journalRowsTrimmed = try trimJournals()
        } catch {
            r.error = "\(error)"
        }
        r.finishedAt = iso.string(from: Date())
        r.finishedUnix = Date().timeIntervalSince1970
        state.withLock { s in
            s.last = r
            s.totals.runs += 1
            s.totals.journalRowsTrimmed += r.journalRowsTrimmed
        }
        return r
    }
}
