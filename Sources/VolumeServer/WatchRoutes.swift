// GET /v1/volumes/{volume}/files/watch: the volume's change journal as Server-Sent Events (create, modify, delete, rename).
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import VolumeCore

struct WatchRoutes: Sendable {
    let host: VolumeHost
    let bridge: BlockingBridge
    let hub: WatchHub

    static let lastEventID = HTTPField.Name("Last-Event-ID")!

    func register(on router: Router<VolumeRequestContext>) {
        router.get("/v1/volumes/:volume/files/watch", use: watch)
    }

    /// Streams events at `path` (itself and its direct children; everything below it with
    /// `recursive=true`). Each event's `id` is its journal sequence number: a client that reconnects
    /// with `Last-Event-ID` (or `last_event_id=`) gets every retained event after it, preceded by a
    /// `resync` event when some were already trimmed.
    @Sendable func watch(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        let owner = try RequestHelpers.scope(request, context)
        let ref = try context.parameters.require("volume")
        let text = RequestHelpers.query(request, "path") ?? "/"
        let watched = try RequestHelpers.wrap { try VolumePath(text) }.description
        let recursive: Bool
        switch RequestHelpers.query(request, "recursive") {
        case nil, "false", "0": recursive = false
        case "true", "1": recursive = true
        default: throw APIFailure.badRequest("'recursive' is true or false")
        }
        var last: Int64?
        if let s = (request.headers[Self.lastEventID] ?? RequestHelpers.query(request, "last_event_id"))?.trimmingCharacters(in: .whitespaces), !s.isEmpty {
            guard let v = Int64(s), v >= 0 else { throw APIFailure.badRequest("Last-Event-ID must be an event id this stream sent (a number)") }
            last = v
        }
        let host = self.host
        let id = try await bridge.run { try host.store.resolve(ref, owner: owner) }
        let stream = try await hub.subscribe(volumeID: id, lastEventID: last)
        var headers: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-cache"]
        headers[HTTPField.Name("X-Accel-Buffering")!] = "no"
        let body = ResponseBody { writer in
            try await writer.write(ByteBuffer(string: "retry: 1000\n: watching \(watched)\n\n"))
            for await item in stream {
                switch item {
                case .heartbeat:
                    try await writer.write(ByteBuffer(string: ": heartbeat\n\n"))
                case let .resync(after, resumeAt, oldest):
                    var fields: [String: Any] = ["type": "resync", "last_event_id": after, "resume_after": resumeAt]
                    fields["oldest_retained"] = oldest.map { $0 as Any } ?? NSNull()
                    let data = try Self.json(fields)
                    try await writer.write(ByteBuffer(string: "id: \(resumeAt)\nevent: resync\ndata: \(data)\n\n"))
                case .event(let e):
                    guard Self.matches(e.path, watched, recursive) || e.fromPath.map({ Self.matches($0, watched, recursive) }) == true else { continue }
                    var fields: [String: Any] = ["id": e.seq, "type": e.type.name, "path": e.path, "time": Self.time(e.time)]
                    if let f = e.fromPath { fields["from_path"] = f }
                    try await writer.write(ByteBuffer(string: "id: \(e.seq)\nevent: \(e.type.name)\ndata: \(try Self.json(fields))\n\n"))
                }
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: headers, body: body)
    }

    /// Whether `path` is `watched` or (directly, or with `recursive` at any depth) below it.
    static func matches(_ path: String, _ watched: String, _ recursive: Bool) -> Bool {
        if path == watched { return true }
        let prefix = watched == "/" ? "/" : watched + "/"
        guard path.hasPrefix(prefix) else { return false }
        return recursive || !path.dropFirst(prefix.count).contains("/")
    }

    static func json(_ object: [String: Any]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self)
    }

    /// RFC 3339 UTC with nanoseconds.
    static func time(_ t: Nanos) -> String { TimeText.iso(nanos: t, digits: 9) }
}
