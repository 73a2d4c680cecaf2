// files.writeFiles: the batch write (the reference's `files.write(entries)`): many files in one multipart request, all or none.
import AsyncHTTPClient
import Foundation
import NIOCore
import VolumeAPI

/// One file of a batch write.
public struct WriteEntry: Sendable {
    public var path: String
    public var data: Data
    public init(path: String, data: Data) { self.path = path; self.data = data }
}

extension Files {
    /// Writes every entry in one request (`multipart/form-data`, one part per file): all or none, the cap
    /// checked for the batch first. `parents` creates missing directories; `user` owns what is created
    /// ("root", the default, "UID" or "UID:GID"; the reference's `WriteEntry.user`, one for the whole
    /// batch). The batch is held in memory on
    /// both sides (the daemon caps it; see Docs/api.md): stream large files with ``write(_:stream:length:parents:mode:)``.
    @discardableResult
    public func writeFiles(_ entries: [WriteEntry], parents: Bool = false, user: String? = nil) async throws -> [WriteResponse] {
        let boundary = "volume-batch-" + UUID().uuidString
        var body = Data()
        for e in entries {
            // The form name is the path, quoted as it is: the daemon reads it up to the closing quote.
            guard !e.path.contains(where: { $0 == "\"" || $0 == ";" || $0 == "\r" || $0 == "\n" }) else {
                throw VolumeClientError(status: 0, code: "invalid_path",
                                        message: "'\(e.path)': a batch write cannot name a path with a quote, ';' or a line break; write that file on its own")
            }
            body.append(Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(e.path)\"\r\n".utf8))
            body.append(Data("Content-Type: application/octet-stream\r\n\r\n".utf8))
            body.append(e.data)
            body.append(Data("\r\n".utf8))
        }
        body.append(Data("--\(boundary)--\r\n".utf8))
        var r = transport.request(.POST, base + "/batch", query: [("parents", parents ? "true" : nil), ("user", user)],
                                  headers: [("Content-Type", "multipart/form-data; boundary=\(boundary)")])
        r.body = .bytes(ByteBuffer(bytes: body))
        let data = try await transport.collect(try await transport.send(r))
        do { return try JSONDecoder().decode([WriteResponse].self, from: data) } catch {
            throw VolumeClientError(status: 0, code: "bad_response", message: "POST batch: the answer is not the expected JSON: \(error)")
        }
    }
}
