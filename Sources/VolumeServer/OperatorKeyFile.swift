// The first operator key: written to DATA_DIR/operator.key (mode 0600) so the operator is never locked out.
import Foundation
import VolumeCore

/// Makes sure `DATA_DIR/operator.key` holds an active operator key: when the file is missing, or its
/// key no longer authenticates (revoked, expired), a new operator key is created and written there.
public enum OperatorKeyFile {
    /// The file's path in a data directory.
    public static func path(in dataDir: URL) -> URL { dataDir.appendingPathComponent("operator.key") }

    /// Returns the path and whether a new key was written.
    @discardableResult
    public static func ensure(store: VolumeStore) throws -> (path: URL, created: Bool) {
        let url = path(in: store.dataDir)
        if let text = try? String(contentsOf: url, encoding: .utf8),
           try store.authenticate(apiKey: text.trimmingCharacters(in: .whitespacesAndNewlines))?.role == .operator {
            return (url, false)
        }
        let k = try store.createAPIKey(tenant: "operator", role: .operator)
        let tmp = url.deletingLastPathComponent().appendingPathComponent(".operator.key.\(getpid())")
        let fd = open(tmp.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw VolumeError.io("cannot write \(tmp.path)", errno: errno) }
        let bytes = Array((k.key + "\n").utf8)
        let ok = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == bytes.count && fsync(fd) == 0
        close(fd)
        guard ok, rename(tmp.path, url.path) == 0 else {
            unlink(tmp.path)
            throw VolumeError.io("cannot write \(url.path)", errno: errno)
        }
        return (url, true)
    }
}
