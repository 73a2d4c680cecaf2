// One service for the daemon's periodic chores (closing idle volumes, sweeping expired uploads, housekeeping): a blocking job on the bridge every few seconds, until shutdown.
import ServiceLifecycle
import VolumeServer

/// Runs `job` on the bridge every `interval` seconds (first at start with `runAtStart`, else one interval
/// after it) until graceful shutdown; an error of `job` ends the service (and so the daemon) with it.
struct PeriodicService: Service {
    let bridge: BlockingBridge
    let interval: Double
    var runAtStart = false
    let job: @Sendable () throws -> Void

    func run() async throws {
        let job = self.job
        do {
            try await cancelWhenGracefulShutdown {
                if runAtStart { try await bridge.run(job) }
                while true {
                    try await Task.sleep(for: .milliseconds(Int64(interval * 1000)))
                    try await bridge.run(job)
                }
            }
        } catch is CancellationError {
            return
        }
    }
}
