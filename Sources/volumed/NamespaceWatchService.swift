// A service that notices sandboxes whose namespace process ended while volumed runs, and fails their attachments (sandbox_gone).
import Logging
import ServiceLifecycle
import VolumeServer

/// Calls `MountSupervisor.sweepGoneNamespaces` on the bridge every `interval` seconds.
struct NamespaceWatchService: Service {
    let supervisor: MountSupervisor
    let bridge: BlockingBridge
    let interval: Double
    let logger: Logger

    func run() async throws {
        let supervisor = self.supervisor
        do {
            try await cancelWhenGracefulShutdown {
                while true {
                    try await Task.sleep(for: .milliseconds(Int64(interval * 1000)))
                    do {
                        let gone = try await bridge.run { try supervisor.sweepGoneNamespaces() }
                        if !gone.isEmpty { logger.notice("sandbox processes gone: attachments failed (sandbox_gone): \(gone.joined(separator: ", "))") }
                    } catch {
                        logger.error("checking sandbox processes failed: \(error)")
                    }
                }
            }
        } catch is CancellationError {
            return
        }
    }
}
