// files.createUpload/continueUpload: resumable uploads over tus 1.0 (creation, HEAD for the offset, PATCH from it, termination).
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import VolumeAPI

#if canImport(Glibc)
import Glibc
#endif

/// A resumable upload the daemon holds: where it lives and how long the file is. Keep `location` (it
/// survives a daemon restart until the upload expires) to continue after a cut connection.
public struct ResumableUpload: Sendable, Equatable, Codable {
    /// The upload's route (`/v1/volumes/{volume_id}/uploads/{id}`).
    public var location: String
    public var length: Int64
    public init(location: String, length: Int64) { self.location = location; self.length = length }
}

extension Files {
    static let tus = ("Tus-Resumable", "1.0.0")

    /// Starts a resumable upload of `length` bytes that lands at `path` (atomically) once every byte is there.
    public func createUpload(_ path: String, length: Int64) async throws -> ResumableUpload {
        let meta = "path " + Data(path.utf8).base64EncodedString()
        let r = transport.request(.POST, Transport.volumeRoute(volume) + "/uploads",
                                  headers: [Self.tus, ("Upload-Length", String(length)), ("Upload-Metadata", meta)])
        let response = try await transport.send(r)
        guard let location = response.headers.first(name: "Location") else {
            throw VolumeClientError(status: Int(response.status.code), code: "bad_response", message: "the daemon created an upload without a Location")
        }
        return ResumableUpload(location: location, length: length)
    }

    /// The offset the daemon has acknowledged (bytes synced), from `HEAD`.
    public func uploadOffset(_ upload: ResumableUpload) async throws -> Int64 {
        let response = try await transport.send(transport.request(.HEAD, upload.location, headers: [Self.tus]))
        guard let o = response.headers.first(name: "Upload-Offset").flatMap({ Int64($0) }) else {
            throw VolumeClientError(status: Int(response.status.code), code: "bad_response", message: "HEAD \(upload.location) gave no Upload-Offset")
        }
        return o
    }

    /// Sends `data` at `offset` (which must be the daemon's offset: 409 `conflict` otherwise); returns the new offset.
    @discardableResult
    public func appendUpload(_ upload: ResumableUpload, offset: Int64, data: Data) async throws -> Int64 {
        var r = transport.request(.PATCH, upload.location,
                                  headers: [Self.tus, ("Upload-Offset", String(offset)), ("Content-Type", "application/offset+octet-stream")])
        r.body = .bytes(ByteBuffer(bytes: data))
        let response = try await transport.send(r)
        guard let o = response.headers.first(name: "Upload-Offset").flatMap({ Int64($0) }) else {
            throw VolumeClientError(status: Int(response.status.code), code: "bad_response", message: "PATCH \(upload.location) gave no Upload-Offset")
        }
        return o
    }

    /// Sends what the daemon lacks of a local file: asks the offset, then PATCHes `chunkSize` pieces from
    /// there until the upload is complete (and the file has landed). Call it again after a failure: it
    /// continues from the last acknowledged offset. Returns the bytes sent by this call.
    @discardableResult
    public func continueUpload(_ upload: ResumableUpload, fromFile source: URL, chunkSize: Int = 8 << 20,
                               progress: (@Sendable (Int64) -> Void)? = nil) async throws -> Int64 {
        let fd = open(source.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw VolumeClientError(status: 0, code: "local_not_found", message: "cannot read '\(source.path)': \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var offset = try await uploadOffset(upload)
        let start = offset
        var buffer = [UInt8](repeating: 0, count: max(1, chunkSize))
        while offset < upload.length {
            let want = Int(min(Int64(buffer.count), upload.length - offset))
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, want, off_t(offset)) }
            guard n > 0 else {
                throw VolumeClientError(status: 0, code: "local_io", message: "'\(source.path)' ends at \(offset) bytes; the upload is \(upload.length)")
            }
            offset = try await appendUpload(upload, offset: offset, data: Data(buffer[0..<n]))
            progress?(offset)
        }
        return offset - start
    }

    /// Uploads a local file resumably from start to end (create, then ``continueUpload(_:fromFile:chunkSize:progress:)``).
    @discardableResult
    public func uploadResumably(_ path: String, fromFile source: URL, chunkSize: Int = 8 << 20,
                                progress: (@Sendable (Int64) -> Void)? = nil) async throws -> ResumableUpload {
        let size = try (FileManager.default.attributesOfItem(atPath: source.path)[.size] as? NSNumber)?.int64Value ?? 0
        let upload = try await createUpload(path, length: size)
        try await continueUpload(upload, fromFile: source, chunkSize: chunkSize, progress: progress)
        return upload
    }

    /// Terminates an upload: it and its bytes are gone.
    public func cancelUpload(_ upload: ResumableUpload) async throws {
        _ = try await transport.send(transport.request(.DELETE, upload.location, headers: [Self.tus]))
    }
}
