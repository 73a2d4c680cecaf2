// A service that runs housekeeping (gc, journal trimming) every --gc-interval seconds and logs what it freed.
import Logging
import ServiceLifecycle
import VolumeServer

/// Calls `Housekeeper.run` on the bridge every `interval` seconds (the first run one interval after start).
struct HousekeepingService: Service {
    let housekeeper: Housekeeper
    let bridge: BlockingBridge
    let interval: Double
    let logger: Logger

    func run() async throws {
        let hk = housekeeper
        do {
            try await cancelWhenGracefulShutdown {
                while true {
                    try await Task.sleep(for: .milliseconds(Int64(interval * 1000)))
                    let r = try await bridge.run { hk.run() }
                    if let e = r.error {
                        logger.error("housekeeping failed: \(e)")
                    } else if let gc = r.gc {
                        logger.info("gc freed \(gc.bytesFreed) bytes in \(gc.chunksDeleted) chunks (\(gc.chunksInGrace) in grace, \(gc.volumesScanned) volumes); journal rows trimmed: \(r.journalRowsTrimmed)")
                    }
                }
            }
        } catch is CancellationError {
            return
        }
    }
}
