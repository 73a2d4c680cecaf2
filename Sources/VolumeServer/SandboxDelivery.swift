// The mount supervisor's part of delivery "in the sandbox": place an attachment's mount in its sandbox's namespace, take it out, and fail it when the sandbox's process is gone.
import Foundation
import VolumeCore

extension MountSupervisor {
    /// Places mounted attachment `a` at its `mount_path` inside `namespace`'s mount namespace, unless a
    /// copy of its current host mount is there already (a stale copy, of a mount since replaced, is
    /// taken out first). Records the outcome: `mounted` with a message naming the namespace, or
    /// `failed` (`sandbox_gone` when the process went meanwhile, `placement_failed` otherwise) with
    /// the host mount taken down. Call inside `exclusively(a.id)`.
    func place(_ a: Attachment, in namespace: ProcessIdentity) throws -> (record: Attachment, placed: Bool) {
        let path = hostPath(a.id), inside = a.mountPath.path
        switch NamespacePlacement.find(pid: namespace.pid, mountPath: inside, volume: a.volumeId, hostPath: path) {
        case .current?:
            return (a, false)
        case .stale?:
            NamespacePlacement.unplaceAll(pid: namespace.pid, mountPath: inside, volume: a.volumeId)
        case .nothing?, nil:
            break
        }
        do {
            guard namespace.isAlive else { throw NamespacePlacement.Failure(stage: 1, errno: ESRCH) }
            try NamespacePlacement.place(hostPath: path, pid: namespace.pid, mountPath: inside)
        } catch {
            let sbx = try store.sandbox(a.sandboxId, owner: nil)
            if !namespace.isAlive { return (try sandboxGone(a, sbx), false) }
            stopServer(path: path, process: a.servedBy?.process)
            let failed = try store.markAttachment(a.id, state: .failed, reason: .placementFailed,
                                                  message: "mounted at \(path) but not placed at \(inside) in the mount namespace of pid \(namespace.pid): \(error)")
            return (failed, false)
        }
        // A process that ended between the check and the placement took the copy with it.
        guard namespace.isAlive else { return (try sandboxGone(a, try store.sandbox(a.sandboxId, owner: nil)), false) }
        let record = try store.markAttachment(a.id, state: .mounted, reason: .mounted,
                                              message: "served by pid \(a.servedBy?.process.pid ?? 0) at \(path), placed at \(inside) in the mount namespace of pid \(namespace.pid)",
                                              servedBy: a.servedBy, hostPath: path)
        return (record, true)
    }

    /// Process `pid` as a sandbox of `tenant` may name it: running, in a mount namespace other than the
    /// daemon's (`invalid_argument`, 400) and not that of another tenant's live sandbox (`forbidden`, 403).
    public func namespaceProcess(pid: Int32, tenant: String) throws -> ProcessIdentity {
        let process = try SandboxNamespace.process(pid: pid)
        try SandboxNamespace.checkNotAnothers(process, tenant: tenant, store: store)
        return process
    }

    /// Gives sandbox `id` a new namespace process (`pid`, checked as at create; nil: host paths only):
    /// the copies in the old namespace (if its process lives) are taken out, the record changed, and,
    /// while the sandbox runs, every attachment is mounted and placed in the new one (an attachment
    /// that was `sandbox_gone` comes back). For a runtime that starts a sandbox's processes again,
    /// and for resume with `namespace_pid`. Blocks.
    public func setNamespace(_ id: String, owner: String?, pid: Int32?) throws -> (sandbox: Sandbox, attachments: [Attachment]) {
        let tenant = try store.sandbox(id, owner: owner).ownerId
        let process = try pid.map { try namespaceProcess(pid: $0, tenant: tenant) }
        for a in try store.attachments(sandbox: id, owner: owner) { exclusively(a.id) { unplace(a) } }
        let s = try store.setSandboxNamespace(id, owner: owner, namespace: process)
        var atts = try store.attachments(sandbox: id, owner: owner)
        if s.state == .running { atts = try mountAll(atts.map(\.id)) }
        return (s, atts)
    }

    /// Takes the copies of `a`'s mount out of its sandbox's namespace, when the sandbox has a live
    /// process (a namespace whose processes are all gone takes its mounts with it).
    func unplace(_ a: Attachment) {
        guard a.delivery == .namespace, let sbx = try? store.sandbox(a.sandboxId, owner: nil), let ns = sbx.namespace, ns.isAlive else { return }
        NamespacePlacement.unplaceAll(pid: ns.pid, mountPath: a.mountPath.path, volume: a.volumeId)
    }

    /// The sandbox's process is gone (it exited, its pid was reused, the host rebooted): the host mount
    /// goes and the attachment is `failed`, reason `sandbox_gone`.
    func sandboxGone(_ a: Attachment, _ sbx: Sandbox) throws -> Attachment {
        stopServer(path: hostPath(a.id), process: a.servedBy?.process)
        let who = sbx.namespace.map { "its process (pid \($0.pid)) is gone" } ?? "it has no namespace process"
        return try store.markAttachment(a.id, state: .failed, reason: .sandboxGone,
                                        message: "sandbox \(sbx.id) is delivered in its mount namespace, and \(who); attach again to a sandbox with a live process")
    }

    /// Fails (`sandbox_gone`, host mount taken down) the mounted attachments of running sandboxes
    /// whose namespace process has ended while the daemon runs. Returns their IDs. Blocks.
    @discardableResult
    public func sweepGoneNamespaces() throws -> [String] {
        var gone: [String] = []
        for sbx in try store.sandboxes(owner: nil) where sbx.state == .running && !inTransition(sbx.id) {
            guard let ns = sbx.namespace, !ns.isAlive else { continue }
            for a in try store.attachments(sandbox: sbx.id, owner: nil) where a.delivery == .namespace && a.state == .mounted {
                let after = try exclusively(a.id) { () -> Attachment in
                    // Read again under the lock: a resume may have given the sandbox a new process meanwhile.
                    let now = try store.sandbox(sbx.id, owner: nil), current = try store.attachment(a.id)
                    guard current.state == .mounted, current.delivery == .namespace, !(now.namespace?.isAlive ?? false),
                          now.state == .running, !inTransition(sbx.id) else { return current }
                    return try sandboxGone(current, now)
                }
                if after.reason == .sandboxGone { gone.append(a.id) }
            }
        }
        return gone
    }

    /// Reconcile's step for an adopted (served) attachment delivered in a namespace: the sandbox's
    /// process gone: `sandbox_gone`; else the copy inside placed again unless it is of this mount.
    func adoptPlacement(_ a: Attachment, sandbox sbx: Sandbox) throws -> (record: Attachment, placedAgain: Bool) {
        try exclusively(a.id) {
            guard let ns = sbx.namespace, ns.isAlive else { return (try sandboxGone(a, sbx), false) }
            let r = try place(a, in: ns)
            return (r.record, r.placed)
        }
    }
}
