// Signed URLs: HMAC-SHA256 over method, volume, path, expiry, tenant (and a PUT's user) with the daemon's signing secret.
import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import VolumeCore

/// Signs and checks `/v1/signed/...` URLs. The secret comes from `--signing-secret` (or its env/config),
/// else from DATA_DIR/signing.key (32 random bytes, hex, mode 0600, created on first start). Rotating it
/// (a new flag value, or deleting signing.key and restarting) makes every URL signed before 403.
public struct URLSigner: Sendable {
    let secret: Data
    /// At most 7 days.
    public static let maxSeconds = 7 * 24 * 3600

    public init(secret: String) { self.secret = Data(secret.utf8) }

    /// The secret given, else the one in `dataDir/signing.key` (created when missing).
    public static func load(dataDir: URL, secret: String?) throws -> URLSigner {
        if let s = secret, !s.isEmpty { return URLSigner(secret: s) }
        let file = dataDir.appendingPathComponent("signing.key")
        if let s = try? String(contentsOf: file, encoding: .utf8), !s.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            return URLSigner(secret: s.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let bytes = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
        let hex = bytes.map { String(format: "%02x", $0) }.joined()
        let tmp = file.path + ".tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw VolumeError.io("cannot create \(tmp)", errno: errno) }
        let line = Data((hex + "\n").utf8)
        _ = line.withUnsafeBytes { Glibc.write(fd, $0.baseAddress!, $0.count) }
        fsync(fd)
        close(fd)
        guard rename(tmp, file.path) == 0 else { throw VolumeError.io("cannot write \(file.path)", errno: errno) }
        return URLSigner(secret: hex)
    }

    /// The hex signature of one use; `user` (a PUT's owner) is signed too when given.
    func signature(method: String, volume: String, path: String, expires: Int64, tenant: String, user: String? = nil) -> String {
        var fields = ["volumes-signed-url-v1", method, volume, path, String(expires), tenant]
        if let user { fields.append("user=" + user) }
        let message = fields.joined(separator: "\n")
        let mac = HMAC<SHA256>.authenticationCode(for: Data(message.utf8), using: SymmetricKey(data: secret))
        return Data(mac).map { String(format: "%02x", $0) }.joined()
    }

    /// Whether `sig` is the signature (compared in constant time).
    func verify(_ sig: String, method: String, volume: String, path: String, expires: Int64, tenant: String, user: String? = nil) -> Bool {
        let want = Array(signature(method: method, volume: volume, path: path, expires: expires, tenant: tenant, user: user).utf8)
        let got = Array(sig.lowercased().utf8)
        guard want.count == got.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<want.count { diff |= want[i] ^ got[i] }
        return diff == 0
    }
}

/// What the transfer routes share: the resumable uploads' store and the URL signer.
public struct Transfers: Sendable {
    public let uploads: UploadStore
    public let signer: URLSigner

    public init(uploads: UploadStore, signer: URLSigner) {
        self.uploads = uploads
        self.signer = signer
    }

    /// Uploads in DATA_DIR/uploads expiring after `uploadExpirySeconds`; the signer from `secret` or DATA_DIR/signing.key.
    public init(dataDir: URL, uploadExpirySeconds: Double = 86400, signingSecret: String? = nil) throws {
        uploads = try UploadStore(dir: dataDir.appendingPathComponent("uploads"), expirySeconds: uploadExpirySeconds)
        signer = try URLSigner.load(dataDir: dataDir, secret: signingSecret)
    }
}
