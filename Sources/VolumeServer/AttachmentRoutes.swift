// Runtime attach and detach of a sandbox's volumes, and the attachment lists of a sandbox and of a volume.
import Foundation
import Hummingbird
import VolumeCore

struct AttachmentRoutes: Sendable {
    let host: VolumeHost
    let bridge: BlockingBridge
    let limits: ServerLimits
    let supervisor: MountSupervisor

    func register(on router: Router<VolumeRequestContext>) {
        router.post("/v1/sandboxes/:sandbox/attachments", use: attach)
        router.get("/v1/sandboxes/:sandbox/attachments", use: listOfSandbox)
        router.delete("/v1/sandboxes/:sandbox/attachments/:attachment", use: detach)
        router.get("/v1/volumes/:volume/attachments", use: listOfVolume)
    }

    /// Attaches (idempotent: the same request again answers 200 with the existing record; a new
    /// one is 201) and mounts it while the sandbox runs.
    @Sendable func attach(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        let owner = try RequestHelpers.scope(request, context)
        let id = try context.parameters.require("sandbox")
        let body = try await RequestHelpers.json(AttachmentBody.self, fields: AttachmentBody.fields, request, limit: limits.maxJSONBytes)
        let wanted = try body.request()
        let store = host.store, supervisor = self.supervisor
        let (record, isNew) = try await bridge.run { () -> (Attachment, Bool) in
            let before = Set(try store.attachments(sandbox: id, owner: owner).map(\.id))
            var a = try store.attach(sandbox: id, owner: owner, wanted)
            // The supervisor leaves a mount that is served and in the mount table as it is.
            if try store.sandbox(id, owner: owner).state == .running { a = try supervisor.mount(a.id) }
            return (a, !before.contains(a.id))
        }
        return try SandboxJSON.make(record, status: isNew ? .created : .ok)
    }

    /// Detaches: the mount goes (its server commits first), the record stays `released`, reason `detached`.
    @Sendable func detach(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        let owner = try RequestHelpers.scope(request, context)
        let id = try context.parameters.require("sandbox")
        let att = try context.parameters.require("attachment")
        let store = host.store, supervisor = self.supervisor
        let record = try await bridge.run { () -> Attachment in
            guard try store.attachments(sandbox: id, owner: owner, includeDetached: true).contains(where: { $0.id == att }) else {
                throw VolumeError.notFound("attachment '\(att)' of sandbox \(id)")
            }
            supervisor.unmount(att)
            return try store.detach(sandbox: id, attachment: att, owner: owner)
        }
        return try SandboxJSON.make(record)
    }

    @Sendable func listOfSandbox(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        let owner = try RequestHelpers.scope(request, context)
        let id = try context.parameters.require("sandbox")
        let detached = try RequestHelpers.boolQuery(request, "include_detached")
        let store = host.store
        let list = try await bridge.run { try store.attachments(sandbox: id, owner: owner, includeDetached: detached) }
        return try SandboxJSON.make(list)
    }

    /// A volume's attachments in the caller's sandboxes; the records outlive the volume, so an ID
    /// that no longer names a volume still lists them.
    @Sendable func listOfVolume(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        let owner = try RequestHelpers.scope(request, context)
        let ref = try context.parameters.require("volume")
        let detached = try RequestHelpers.boolQuery(request, "include_detached")
        let store = host.store
        let list = try await bridge.run { () -> [Attachment] in
            let id: String
            do { id = try store.resolve(ref, owner: owner) } catch VolumeError.notFound {
                let found = try store.attachments(volume: ref, owner: owner, includeDetached: true)
                guard !found.isEmpty else { throw VolumeError.notFound("volume '\(ref)'") }
                id = ref
            }
            return try store.attachments(volume: id, owner: owner, includeDetached: detached)
        }
        return try SandboxJSON.make(list)
    }
}
