// Mounts a sandbox's attachments at once (create, fork, resume, a new namespace): one thread per attachment, all settled before returning.
import Foundation
import VolumeCore

extension MountSupervisor {
    /// Mounts attachments `ids` concurrently (`mount` for each) and returns their records in the order
    /// of `ids`, once every one is settled: `mounted`, or `failed` with its reason. A mount is mostly a
    /// wait for its server process to report, so each runs on a thread of its own, as many as there are
    /// attachments (a sandbox has at most `StoreOptions.maxAttachmentsPerSandbox`); the caller's thread
    /// (a `BlockingBridge` thread, never an event loop) waits for all of them. Not the bridge's pool:
    /// a pool thread waiting for work queued behind it on the same pool deadlocks when the pool is busy.
    /// One attachment's failure stops none of the others: an error a mount throws (the registry, the
    /// mount directory) is recorded as `failed`, `mount_failed`, with the error; only when even that
    /// record cannot be written is the first such error thrown, after all are settled. Each mount
    /// writes its record in its own registry transaction (GRDB serialises the daemon's writers; other
    /// processes wait on SQLite's busy timeout). Blocks.
    public func mountAll(_ ids: [String]) throws -> [Attachment] {
        let results = Slots(count: ids.count)
        if ids.count == 1 {
            results.set(0, settle(ids[0]))
        } else {
            let group = DispatchGroup()
            for (i, id) in ids.enumerated() {
                group.enter()
                let thread = Thread { [self] in
                    results.set(i, settle(id))
                    group.leave()
                }
                thread.name = "mount \(id)"
                thread.start()
            }
            group.wait()
        }
        return try results.all().map { try $0.get() }
    }

    /// `mount(id)`, with a thrown error recorded as the attachment's failure when possible.
    private func settle(_ id: String) -> Result<Attachment, any Error> {
        do { return .success(try mount(id)) } catch {
            do {
                let failed = try store.markAttachment(id, state: .failed, reason: .mountFailed, message: "the mount failed: \(error)")
                return .success(failed)
            } catch {
                return .failure(error)
            }
        }
    }
}

/// One result per attachment, filled by the mounting threads.
private final class Slots: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Result<Attachment, any Error>?]

    init(count: Int) { values = Array(repeating: nil, count: count) }

    func set(_ i: Int, _ value: Result<Attachment, any Error>) {
        lock.lock()
        values[i] = value
        lock.unlock()
    }

    func all() -> [Result<Attachment, any Error>] {
        lock.lock()
        defer { lock.unlock() }
        return values.map { $0 ?? .failure(VolumeError.io("a mount thread ended without a result", errno: EIO)) }
    }
}
