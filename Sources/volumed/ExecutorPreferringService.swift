// Runs a service (an HTTP server) with a task executor preference, so the tasks it starts run on that executor.
import ServiceLifecycle

/// Runs `service` inside `withTaskExecutorPreference(executor)`: the child tasks it starts (an HTTP
/// server's connection tasks, and the handlers they call) inherit the preference. Graceful shutdown
/// and cancellation reach the service as they would without the wrapper.
struct ExecutorPreferringService: Service {
    let service: any Service
    let executor: any TaskExecutor

    func run() async throws {
        try await withTaskExecutorPreference(executor) { try await service.run() }
    }
}
