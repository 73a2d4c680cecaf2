// The daemon's Prometheus metrics: swift-metrics instruments backed by one swift-prometheus registry, and their text export.
import CoreMetrics
import Foundation
import Metrics
import Prometheus
import Synchronization
import VolumeCore

/// Instruments for requests (by route, method and status, with a latency histogram), bytes in and
/// out, and gauges read at scrape time: volumes, open volumes, chunk-store bytes, watch pollers and
/// housekeeping's totals. Made through swift-metrics with an explicit factory (no global bootstrap),
/// so every server has its own registry.
public final class ServerMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    let factory: PrometheusMetricsFactory
    let bytesIn: CoreMetrics.Counter
    let bytesOut: CoreMetrics.Counter
    /// The chunk store's size is a walk of the store: read at most every `chunkStatsSeconds`.
    private let chunkStats = Mutex<(at: Double, bytes: Int64, chunks: Int)?>(nil)
    let chunkStatsSeconds: Double = 30

    public init() {
        var f = PrometheusMetricsFactory(registry: registry)
        f.defaultDurationHistogramBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60].map { Duration.nanoseconds(Int64($0 * 1e9)) }
        factory = f
        bytesIn = CoreMetrics.Counter(label: "volumed_http_request_bytes_total", dimensions: [], factory: f)
        bytesOut = CoreMetrics.Counter(label: "volumed_http_response_bytes_total", dimensions: [], factory: f)
    }

    /// The instruments of one (route, method, status).
    private struct RequestKey: Hashable {
        var route: String
        var method: String
        var status: Int
    }

    /// The request instruments made so far: made once per (route, method, status), since making one
    /// through the factory looks it up in the registry under a lock with its labels (a tenth of a small
    /// request's CPU when it was done per request). Routes are patterns, so this stays small.
    private let requestInstruments = Mutex<[RequestKey: (count: CoreMetrics.Counter, duration: CoreMetrics.Timer)]>([:])

    /// Counts one finished request (`route` is the route pattern, never the concrete path).
    func request(route: String, method: String, status: Int, nanoseconds: UInt64) {
        let key = RequestKey(route: route, method: method, status: status)
        let instruments = requestInstruments.withLock { m in
            if let i = m[key] { return i }
            let dims = [("route", route), ("method", method), ("status", String(status))]
            let i = (count: CoreMetrics.Counter(label: "volumed_http_requests_total", dimensions: dims, factory: factory),
                     duration: CoreMetrics.Timer(label: "volumed_http_request_duration_seconds", dimensions: dims, factory: factory))
            m[key] = i
            return i
        }
        instruments.count.increment()
        instruments.duration.recordNanoseconds(Int64(clamping: nanoseconds))
    }

    func gauge(_ name: String, _ value: Double) {
        CoreMetrics.Gauge(label: name, dimensions: [], factory: factory).record(value)
    }

    /// Reads the gauges (blocking: call through the bridge), then renders the registry as Prometheus text.
    public func render(host: VolumeHost, watches: WatchHub, housekeeper: Housekeeper) throws -> [UInt8] {
        let store = host.store
        gauge("volumed_volumes", Double(try store.volumeCount()))  // from the registry: a scrape opens no catalog
        gauge("volumed_open_volumes", Double(host.openCount))
        gauge("volumed_watch_pollers", Double(watches.pollerCount))
        let now = VolumeHost.now()
        var stats = chunkStats.withLock { $0 }
        if stats == nil || now - stats!.at >= chunkStatsSeconds {
            let s = try store.chunks.stats()
            stats = (now, s.bytes, s.chunks)
            chunkStats.withLock { $0 = stats }
        }
        gauge("volumed_chunk_store_bytes", Double(stats!.bytes))
        gauge("volumed_chunk_store_chunks", Double(stats!.chunks))
        let t = housekeeper.totals
        gauge("volumed_gc_runs", Double(t.runs))
        gauge("volumed_gc_freed_bytes", Double(t.bytesFreed))
        gauge("volumed_gc_deleted_chunks", Double(t.chunksDeleted))
        if let last = housekeeper.lastRun {
            gauge("volumed_gc_last_run_timestamp_seconds", last.finishedUnix)
            gauge("volumed_gc_last_freed_bytes", Double(last.gc?.bytesFreed ?? 0))
        }
        var out: [UInt8] = []
        registry.emit(into: &out)
        return out
    }

    /// Forgets the cached chunk-store size (after a gc).
    func invalidateChunkStats() { chunkStats.withLock { $0 = nil } }
}
