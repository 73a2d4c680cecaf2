// client.sandboxes: create (with attachments, optionally run by the daemon's runtime), lifecycle, exec, attach and detach.
import Foundation
import VolumeAPI

/// The sandbox calls (`/v1/sandboxes`).
public struct Sandboxes: Sendable {
    let transport: Transport

    static func route(_ id: String, _ tail: String = "") -> String { "/v1/sandboxes/" + Transport.escape(id, keepSlash: false) + tail }

    public func create(_ request: CreateSandboxRequest) async throws -> SandboxResponse {
        try await transport.json(.POST, "/v1/sandboxes", body: request, as: SandboxResponse.self)
    }

    public func list(includeDestroyed: Bool = false) async throws -> [SandboxResponse] {
        try await transport.json(.GET, "/v1/sandboxes", query: [("include_destroyed", includeDestroyed ? "true" : nil)], as: [SandboxResponse].self)
    }

    public func get(_ id: String) async throws -> SandboxResponse {
        try await transport.json(.GET, Self.route(id), as: SandboxResponse.self)
    }

    /// `pause`, `hibernate`, `resume`, `destroy` or `fork` (which answers the new sandbox).
    public func lifecycle(_ id: String, _ action: String) async throws -> SandboxResponse {
        try await transport.json(.POST, Self.route(id, "/" + action), as: SandboxResponse.self)
    }

    /// Runs a command inside the sandbox as its user.
    public func exec(_ id: String, _ request: ExecRequest) async throws -> ExecResponse {
        try await transport.json(.POST, Self.route(id, "/exec"), body: request, as: ExecResponse.self)
    }

    public func attach(_ id: String, _ request: AttachRequest) async throws -> AttachmentResponse {
        try await transport.json(.POST, Self.route(id, "/attachments"), body: request, as: AttachmentResponse.self)
    }

    public func detach(_ id: String, attachment: String) async throws -> AttachmentResponse {
        try await transport.json(.DELETE, Self.route(id, "/attachments/" + Transport.escape(attachment, keepSlash: false)), as: AttachmentResponse.self)
    }

    public func attachments(_ id: String, includeDetached: Bool = false) async throws -> [AttachmentResponse] {
        try await transport.json(.GET, Self.route(id, "/attachments"), query: [("include_detached", includeDetached ? "true" : nil)],
                                 as: [AttachmentResponse].self)
    }
}

extension VolumeClient {
    /// Sandboxes of the caller's tenant: create, lifecycle, exec, attachments.
    public var sandboxes: Sandboxes { Sandboxes(transport: transport) }
}
