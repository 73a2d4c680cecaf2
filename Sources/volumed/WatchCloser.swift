// A service that ends every watch stream when the daemon shuts down, so open streams do not hold up the drain.
import ServiceLifecycle
import VolumeServer

/// Waits for graceful shutdown, then closes the hub's streams (listed after the listeners, it stops first).
struct WatchCloser: Service {
    let hub: WatchHub

    func run() async throws {
        try? await gracefulShutdown()
        hub.close()
    }
}
