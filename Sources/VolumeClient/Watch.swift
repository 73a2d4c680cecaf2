// files.watch: the change stream of a path (Server-Sent Events) as an async sequence of events, resumable by event id.
import AsyncHTTPClient
import Foundation
import NIOCore
import VolumeAPI

/// One change (or a `resync` notice) from `files.watch`.
public struct WatchEvent: Sendable, Equatable {
    /// The event id: pass the last one seen as `lastEventID` to resume after it.
    public var id: Int64
    /// "create", "modify", "delete", "rename", or "resync" (events after `lastEventID` were no longer
    /// retained: re-read what you mirror, then go on from here).
    public var type: String
    /// The path changed (empty for resync).
    public var path: String
    /// For a rename, where it came from.
    public var fromPath: String?
    /// RFC 3339 UTC (empty for resync).
    public var time: String
}

extension Files {
    /// Streams the changes at `path` (and its direct children; with `recursive`, everything below it),
    /// made through the API or any mount of the volume on the daemon's host. With `lastEventID`, every
    /// retained event after it comes first. The sequence ends when the daemon closes the stream (its
    /// shutdown) and throws when the connection fails; cancel the consuming task to stop watching.
    public func watch(_ path: String = "/", recursive: Bool = false, lastEventID: Int64? = nil) async throws -> AsyncThrowingStream<WatchEvent, Error> {
        var headers: [(String, String)] = [("Accept", "text/event-stream")]
        if let lastEventID { headers.append(("Last-Event-ID", String(lastEventID))) }
        let r = transport.request(.GET, base + "/watch", query: [("path", path), ("recursive", recursive ? "true" : nil)], headers: headers)
        let response = try await transport.send(r)
        let endpoint = transport.endpoint
        return AsyncThrowingStream { continuation in
            let task = Task {
                var parser = SSEParser()
                do {
                    for try await buffer in response.body {
                        for event in parser.feed(buffer.readableBytesView) {
                            if let e = Self.watchEvent(event) { continuation.yield(e) }
                        }
                    }
                    continuation.finish()
                } catch is CancellationError {
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: VolumeClientError.transport(error, endpoint: endpoint))
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    static func watchEvent(_ e: SSEParser.Event) -> WatchEvent? {
        guard let data = e.data.data(using: .utf8), let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        let id = (o["id"] as? NSNumber)?.int64Value ?? e.id.flatMap { Int64($0) } ?? 0
        return WatchEvent(id: id, type: (o["type"] as? String) ?? e.event, path: (o["path"] as? String) ?? "",
                          fromPath: o["from_path"] as? String, time: (o["time"] as? String) ?? "")
    }
}

/// A Server-Sent Events parser (the WHATWG event-stream format): fed bytes as they arrive, returns whole events.
struct SSEParser {
    struct Event {
        var id: String?
        var event: String
        var data: String
    }

    private var pending: [UInt8] = []
    private var id: String?
    private var event = ""
    private var data: [String] = []

    /// The events completed by these bytes.
    mutating func feed(_ bytes: some Sequence<UInt8>) -> [Event] {
        var out: [Event] = []
        for b in bytes {
            guard b == UInt8(ascii: "\n") else { pending.append(b); continue }
            if pending.last == UInt8(ascii: "\r") { pending.removeLast() }
            let line = String(decoding: pending, as: UTF8.self)
            pending.removeAll(keepingCapacity: true)
            if line.isEmpty {
                if !data.isEmpty { out.append(Event(id: id, event: event.isEmpty ? "message" : event, data: data.joined(separator: "\n"))) }
                event = ""
                data = []
                continue
            }
            if line.hasPrefix(":") { continue }
            let (field, value): (Substring, Substring)
            if let colon = line.firstIndex(of: ":") {
                field = line[..<colon]
                var v = line[line.index(after: colon)...]
                if v.hasPrefix(" ") { v = v.dropFirst() }
                value = v
            } else {
                (field, value) = (Substring(line), "")
            }
            switch field {
            case "id": id = String(value)
            case "event": event = String(value)
            case "data": data.append(String(value))
            default: break
            }
        }
        return out
    }
}
