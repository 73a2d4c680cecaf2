// Mounts (create, fork, resume, a new namespace) and unmounts (pause, destroy) a sandbox's attachments at once: one thread per attachment, all settled before returning.
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
        Self.eachAtOnce(ids, name: "mount") { [self] i, id in results.set(i, self.settle(id)) }
        return try results.all().map { try $0.get() }
    }

    /// Takes the mounts of attachments `ids` down concurrently (`unmount` for each) and returns once
    /// all are down. A server that still serves a descriptor held open (through a lazily detached
    /// mount) is waited for a bounded while each: at once, that bound is paid once, not per attachment.
    public func unmountAll(_ ids: [String]) {
        Self.eachAtOnce(ids, name: "unmount") { [self] _, id in self.unmount(id) }
    }

    /// Runs `body` for each of `ids` on a thread of its own (on the caller's when there is one) and
    /// returns when all have ended.
    private static func eachAtOnce(_ ids: [String], name: String, _ body: @escaping @Sendable (Int, String) -> Void) {
        if ids.count <= 1 {
            if let id = ids.first { body(0, id) }
            return
        }
        let group = DispatchGroup()
        for (i, id) in ids.enumerated() {
            group.enter()
            let thread = Thread {
                body(i, id)
                group.leave()
            }
            thread.name = "\(name) \(id)"
            thread.start()
        }
        group.wait()
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
