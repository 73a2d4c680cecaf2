// A file's HTTP validators (ETag from inode + mtime + size, Last-Modified) and the conditional-GET rules over them.
import Foundation
import HTTPTypes
import Hummingbird
import VolumeCore

/// The validators of one file version. The ETag is strong and names the inode, the modification time in
/// nanoseconds and the size (`"ino-mtime-size"`, hex): any write through the API or a mount changes the
/// mtime, and a replaced file is a new inode, so two versions never share one. No content hash is read.
struct Validators {
    let etag: String
    let lastModified: String
    /// mtime in whole seconds (what Last-Modified can say).
    let mtimeSeconds: Int64

    init(_ a: Attributes) {
        etag = "\"\(String(a.ino, radix: 16))-\(String(UInt64(bitPattern: a.mtime), radix: 16))-\(String(a.size, radix: 16))\""
        mtimeSeconds = a.mtime >= 0 ? a.mtime / 1_000_000_000 : (a.mtime - 999_999_999) / 1_000_000_000
        lastModified = Self.httpDate(Date(timeIntervalSince1970: Double(mtimeSeconds)))
    }

    /// `If-None-Match` (any listed tag, weak comparison, or `*`) else `If-Modified-Since`: true when the
    /// client's copy is current and the answer is 304.
    func notModified(_ request: Request) -> Bool {
        if let inm = request.headers[.ifNoneMatch] {
            return Self.tags(inm).contains { $0 == "*" || Self.weak($0) == Self.weak(etag) }
        }
        if let ims = request.headers[.ifModifiedSince], let d = Self.parseDate(ims) {
            return mtimeSeconds <= Int64(d.timeIntervalSince1970)
        }
        return false
    }

    /// `If-Match` / `If-Unmodified-Since` fail: 412.
    func preconditionFails(_ request: Request) -> Bool {
        if let im = request.headers[.ifMatch] {
            return !Self.tags(im).contains { $0 == "*" || $0 == etag }
        }
        if let ius = request.headers[.ifUnmodifiedSince], let d = Self.parseDate(ius) {
            return mtimeSeconds > Int64(d.timeIntervalSince1970)
        }
        return false
    }

    /// Whether a `Range` applies: no `If-Range`, or one that names this version (the strong ETag, or
    /// exactly this Last-Modified date); otherwise the whole file is sent with 200.
    func rangeApplies(_ request: Request) -> Bool {
        guard let ir = request.headers[.ifRange]?.trimmingCharacters(in: .whitespaces) else { return true }
        if ir.hasPrefix("\"") || ir.hasPrefix("W/") { return ir == etag }
        guard let d = Self.parseDate(ir) else { return false }
        return Int64(d.timeIntervalSince1970) == mtimeSeconds
    }

    /// The 304 answer: validators, no body.
    func notModifiedResponse() -> Response {
        Response(status: .notModified, headers: [.eTag: etag, .lastModified: lastModified])
    }

    static func tags(_ header: String) -> [String] {
        header.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    static func weak(_ tag: String) -> String { tag.hasPrefix("W/") ? String(tag.dropFirst(2)) : tag }

    static func formatter(_ format: String) -> DateFormatter {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "GMT")
        f.dateFormat = format
        return f
    }

    static func httpDate(_ d: Date) -> String { TimeText.http(d) }

    /// An HTTP date in any of the three forms RFC 9110 accepts.
    static func parseDate(_ s: String) -> Date? {
        for f in ["EEE, dd MMM yyyy HH:mm:ss 'GMT'", "EEEE, dd-MMM-yy HH:mm:ss 'GMT'", "EEE MMM d HH:mm:ss yyyy"] {
            if let d = formatter(f).date(from: s.trimmingCharacters(in: .whitespaces)) { return d }
        }
        return nil
    }
}
