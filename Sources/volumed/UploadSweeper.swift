// A service that removes expired resumable uploads (and their bytes) every few seconds, until shutdown.
import Logging
import ServiceLifecycle
import VolumeServer

/// Calls `UploadStore.sweep` on the bridge at start and every `interval` seconds, logging what it freed.
struct UploadSweeper: Service {
    let uploads: UploadStore
    let bridge: BlockingBridge
    let interval: Double
    let logger: Logger

    func run() async throws {
        let uploads = self.uploads
        do {
            try await cancelWhenGracefulShutdown {
                while true {
                    let (n, bytes) = try await bridge.run { uploads.sweep() }
                    if n > 0 || bytes > 0 { logger.info("swept \(n) expired upload(s), \(bytes) bytes") }
                    try await Task.sleep(for: .milliseconds(Int64(interval * 1000)))
                }
            }
        } catch is CancellationError {
            return
        }
    }
}
