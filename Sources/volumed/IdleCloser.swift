// A service that closes idle volumes every few seconds, until the daemon shuts down.
import ServiceLifecycle
import VolumeServer

/// Calls `VolumeHost.closeIdle` on the bridge every `interval` seconds.
struct IdleCloser: Service {
    let host: VolumeHost
    let bridge: BlockingBridge
    let interval: Double

    func run() async throws {
        let host = self.host
        do {
            try await cancelWhenGracefulShutdown {
                while true {
                    try await Task.sleep(for: .milliseconds(Int64(interval * 1000)))
                    _ = try await bridge.run { host.closeIdle() }
                }
            }
        } catch is CancellationError {
            return
        }
    }
}
