// How the synchronous CLI calls the async client: one blocking bridge, and the daemon's errors as the CLI's
// one-line messages and exit codes.
import ArgumentParser
import Foundation
import VolumeClient

/// A failure the daemon reported (or the transport): printed as its message alone, with the exit code
/// the local mode gives the same error code.
struct RemoteFailure: Error, CustomStringConvertible {
    let code: String
    let message: String
    var description: String { message }

    /// The CLI's exit code for the daemon's error code: the same table as the local mode's (`ExitCodes`).
    var exitCode: Int32 { ExitCodes.forCode(code) }

    init(code: String, message: String) { self.code = code; self.message = message }

    init(_ e: VolumeClientError) {
        switch e.code {
        case "local_not_found": self.init(code: "not_found", message: e.message)
        case "local_is_a_directory": self.init(code: "is_a_directory", message: e.message)
        case "unauthorized": self.init(code: e.code, message: "\(e.message) (set VOLUMES_API_KEY)")
        default: self.init(code: e.code, message: e.message)
        }
    }
}

/// Runs an async client call to completion from synchronous code; the client's errors become `RemoteFailure`.
func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let box = ResultBox<T>()
    let done = DispatchSemaphore(value: 0)
    Task.detached {
        do { box.set(.success(try await body())) } catch { box.set(.failure(error)) }
        done.signal()
    }
    done.wait()
    do {
        return try box.get()
    } catch let e as VolumeClientError {
        throw RemoteFailure(e)
    }
}

/// The result of a task, handed to the thread that waits for it (the semaphore orders the two).
final class ResultBox<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<T, any Error>?
    func set(_ r: Result<T, any Error>) { lock.lock(); result = r; lock.unlock() }
    /// The result when there is one.
    func peek() -> Result<T, any Error>? {
        lock.lock()
        defer { lock.unlock() }
        return result
    }
    func get() throws -> T {
        lock.lock()
        defer { lock.unlock() }
        return try result!.get()
    }
}

/// Re-reads a wire value as the core's value with the same JSON keys (VolumeResponse -> VolumeInfo, ...).
func convert<T: Decodable>(_ value: some Encodable, to type: T.Type = T.self) throws -> T {
    try JSONDecoder().decode(T.self, from: try JSONEncoder().encode(value))
}
