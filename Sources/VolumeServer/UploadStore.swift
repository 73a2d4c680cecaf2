// Resumable uploads on disk: DATA_DIR/uploads/<id>.json (the record) and <id>.bin (the bytes acknowledged so far).
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import VolumeCore

/// One resumable upload's record. `offset` is the last offset acknowledged to the client: the bytes
/// up to it are synced to `<id>.bin` before the record saying so is written (atomically, then synced).
struct UploadRecord: Codable, Sendable, Equatable {
    var id: String
    /// The tenant that owns the target volume.
    var owner: String
    var volumeId: String
    var path: String
    var length: Int64
    var offset: Int64
    var createdAt: Double
    /// Seconds since 1970; renewed by every acknowledged PATCH.
    var expiresAt: Double
    /// The client's Upload-Metadata, as sent (base64 values).
    var metadata: String?

    enum CodingKeys: String, CodingKey {
        case id, owner, volumeId = "volume_id", path, length, offset, createdAt = "created_at", expiresAt = "expires_at", metadata
    }
}

/// The directory of partial uploads. Blocking: call it through the bridge.
public final class UploadStore: Sendable {
    public let dir: URL
    /// An upload not continued for this long expires and is swept.
    public let expirySeconds: Double
    /// Uploads with a PATCH (or landing) in progress: a second one is refused.
    private let busy = Mutex(Set<String>())

    public init(dir: URL, expirySeconds: Double) throws {
        self.dir = dir
        self.expirySeconds = expirySeconds
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }

    func recordURL(_ id: String) -> URL { dir.appendingPathComponent(id + ".json") }
    func dataURL(_ id: String) -> URL { dir.appendingPathComponent(id + ".bin") }

    static func now() -> Double { Date().timeIntervalSince1970 }

    /// Creates an upload: an empty, synced data file, then its record.
    func create(owner: String, volumeId: String, path: String, length: Int64, metadata: String?) throws -> UploadRecord {
        let id = UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        let now = Self.now()
        let r = UploadRecord(id: id, owner: owner, volumeId: volumeId, path: path, length: length, offset: 0,
                             createdAt: now, expiresAt: now + expirySeconds, metadata: metadata)
        let fd = open(dataURL(id).path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw VolumeError.io("cannot create \(dataURL(id).path)", errno: errno) }
        fsync(fd)
        close(fd)
        try save(r)
        return r
    }

    /// The record of `id`, or nil (unknown, malformed id, or expired).
    func load(_ id: String) throws -> UploadRecord? {
        guard !id.isEmpty, id.count <= 64, id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else { return nil }
        guard let data = try? Data(contentsOf: recordURL(id)) else { return nil }
        guard let r = try? JSONDecoder().decode(UploadRecord.self, from: data) else { return nil }
        return r.expiresAt > Self.now() ? r : nil
    }

    /// Writes the record atomically: a temporary file, synced, renamed over, the directory synced.
    func save(_ r: UploadRecord) throws {
        let tmp = dir.appendingPathComponent(r.id + ".json.tmp")
        let data = try JSONEncoder().encode(r)
        let fd = open(tmp.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw VolumeError.io("cannot write \(tmp.path)", errno: errno) }
        defer { close(fd) }
        try data.withUnsafeBytes { b in
            var done = 0
            while done < b.count {
                let n = Glibc.write(fd, b.baseAddress! + done, b.count - done)
                if n < 0 { if errno == EINTR { continue }; throw VolumeError.io("cannot write \(tmp.path)", errno: errno) }
                done += n
            }
        }
        guard fsync(fd) == 0 else { throw VolumeError.io("cannot sync \(tmp.path)", errno: errno) }
        guard rename(tmp.path, recordURL(r.id).path) == 0 else { throw VolumeError.io("cannot rename \(tmp.path)", errno: errno) }
        syncDir()
    }

    private func syncDir() {
        let d = open(dir.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if d >= 0 { fsync(d); close(d) }
    }

    /// Marks `id` busy; false when another PATCH holds it.
    func claim(_ id: String) -> Bool { busy.withLock { $0.insert(id).inserted } }
    func release(_ id: String) { _ = busy.withLock { $0.remove(id) } }

    /// Appends what `source` yields at the record's offset, refusing more than its length. Only when
    /// the source ends cleanly are the bytes synced and the new offset recorded (and returned); on any
    /// error the data file is cut back to the old offset, which stays the acknowledged one.
    func append(_ r: UploadRecord, from source: ByteSource) throws -> UploadRecord {
        let fd = open(dataURL(r.id).path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw VolumeError.io("cannot open the upload's data", errno: errno) }
        defer { close(fd) }
        // Bytes past the acknowledged offset (from a cut PATCH before a crash) are not the client's.
        guard ftruncate(fd, off_t(r.offset)) == 0 else { throw VolumeError.io("cannot truncate the upload's data", errno: errno) }
        var offset = r.offset
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 << 10, alignment: 16)
        defer { buffer.deallocate() }
        do {
            while true {
                let n = try source.read(into: buffer)
                if n == 0 { break }
                guard offset + Int64(n) <= r.length else {
                    throw APIFailure("bad_request", "the body goes past Upload-Length (\(r.length) bytes); the offset stays \(r.offset)")
                }
                var done = 0
                while done < n {
                    let w = pwrite(fd, buffer.baseAddress! + done, n - done, off_t(offset) + off_t(done))
                    if w < 0 { if errno == EINTR { continue }; throw VolumeError.io("cannot write the upload's data", errno: errno) }
                    done += w
                }
                offset += Int64(n)
            }
            guard fsync(fd) == 0 else { throw VolumeError.io("cannot sync the upload's data", errno: errno) }
        } catch {
            _ = ftruncate(fd, off_t(r.offset))
            throw error
        }
        var next = r
        next.offset = offset
        next.expiresAt = Self.now() + expirySeconds
        if offset != r.offset { try save(next) }
        return next
    }

    /// Removes an upload's record (first: it is what makes an upload exist) and its bytes.
    func remove(_ id: String) {
        unlink(recordURL(id).path)
        unlink(dataURL(id).path)
        syncDir()
    }

    /// Removes expired uploads, unreadable records, and data files or temporaries without a record.
    /// Returns how many uploads and bytes it collected.
    @discardableResult
    public func sweep() -> (uploads: Int, bytes: Int64) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir.path) else { return (0, 0) }
        let now = Self.now()
        var uploads = 0
        var bytes: Int64 = 0
        var live = Set<String>()
        for n in names where n.hasSuffix(".json") {
            let id = String(n.dropLast(5))
            if busy.withLock({ $0.contains(id) }) { live.insert(id); continue }
            if let data = try? Data(contentsOf: recordURL(id)), let r = try? JSONDecoder().decode(UploadRecord.self, from: data), r.expiresAt > now {
                live.insert(id)
                continue
            }
            bytes += Self.size(dataURL(id).path)
            remove(id)
            uploads += 1
        }
        for n in names where n.hasSuffix(".bin") || n.hasSuffix(".json.tmp") {
            let id = String(n.split(separator: ".").first ?? "")
            guard !live.contains(id), !busy.withLock({ $0.contains(id) }) else { continue }
            // A record written after the listing makes it live again.
            if FileManager.default.fileExists(atPath: recordURL(id).path) { continue }
            // A record being created: its data file comes first; leave young ones.
            if let m = (try? FileManager.default.attributesOfItem(atPath: dir.appendingPathComponent(n).path))?[.modificationDate] as? Date,
               now - m.timeIntervalSince1970 < 60 { continue }
            bytes += Self.size(dir.appendingPathComponent(n).path)
            unlink(dir.appendingPathComponent(n).path)
        }
        return (uploads, bytes)
    }

    static func size(_ path: String) -> Int64 {
        var st = stat()
        return stat(path, &st) == 0 ? Int64(st.st_size) : 0
    }
}

/// One file read from a `ByteSource` (an upload's data file), as an import source for the core's atomic,
/// cap-checked write path.
final class SingleFileSource: ImportSource {
    private let source: ByteSource
    private let name: String
    private let size: Int64
    private let owner: FileOwner
    private var done = false
    private(set) var bytesConsumed: Int64 = 0
    var totalBytes: Int64? { size }

    init(_ source: ByteSource, name: String, size: Int64, owner: FileOwner) {
        self.source = source
        self.name = name
        self.size = size
        self.owner = owner
    }

    func next() throws -> ImportItem? {
        guard !done else { return nil }
        done = true
        return .file(ImportMeta(components: [name], mode: 0o644, uid: owner.uid, gid: owner.gid, mtime: Nanos.now(), entry: 1), declaredSize: size)
    }

    func readData(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = try source.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer.prefix(Int(min(Int64(buffer.count), size - bytesConsumed)))))
        bytesConsumed += Int64(n)
        return n
    }

    func finish() throws {}
}
