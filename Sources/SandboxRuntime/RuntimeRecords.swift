// The runtime's durable records: one JSON file per running sandbox, so a restarted daemon finds its sandboxes again.
import Foundation

/// `DIR/<sandbox-id>.json` holds each live sandbox's `RuntimeHandle`. Written when the sandbox
/// starts, removed when it is destroyed; a daemon that starts reads them all and re-adopts the
/// sandboxes whose init still runs (same pid and start time).
public struct RuntimeRecords: Sendable {
    public let dir: URL

    public init(dir: URL) { self.dir = dir }

    func file(_ id: String) -> URL { dir.appendingPathComponent(id + ".json") }

    public func save(_ handle: RuntimeHandle) throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        try e.encode(handle).write(to: file(handle.sandboxId), options: .atomic)
    }

    public func load(_ id: String) -> RuntimeHandle? {
        guard let data = FileManager.default.contents(atPath: file(id).path) else { return nil }
        return try? JSONDecoder().decode(RuntimeHandle.self, from: data)
    }

    public func remove(_ id: String) { try? FileManager.default.removeItem(at: file(id)) }

    /// Every record.
    public func all() -> [RuntimeHandle] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { $0.hasSuffix(".json") }.compactMap { load(String($0.dropLast(5))) }
    }
}
