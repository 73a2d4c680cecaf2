// Where `volumectl export` writes its archive: standard output, or a file written under a temporary name
// beside it, synced and renamed into place only when whole.
import Foundation
import VolumeCore

#if canImport(Glibc)
import Glibc
#endif

/// The export's output, opened by the backend once the volume and path are known (so a missing volume
/// creates nothing), then committed or abandoned by the command.
final class ExportOutput {
    let output: String
    private var fd: Int32 = -1
    private var tmp: String?

    init(_ output: String) { self.output = output }

    /// The sink to write the archive to.
    func open() throws -> ByteSink {
        if output == "-" { return FileByteSink(fd: 1, name: "standard output", isCancelled: TransferSignals.isCancelled) }
        let url = URL(fileURLWithPath: output)
        let path = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).part-\(getpid())").path
        fd = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw VolumeError.io("create \(path)", errno: errno) }
        tmp = path
        return FileByteSink(fd: fd, name: output, isCancelled: TransferSignals.isCancelled)
    }

    /// Syncs the file and renames it into place.
    func commit() throws {
        guard let tmp else { return }
        guard fsync(fd) == 0 else { throw VolumeError.io("fsync \(output)", errno: errno) }
        let closed = close(fd)
        fd = -1
        guard closed == 0 else { throw VolumeError.io("close \(output)", errno: errno) }
        guard rename(tmp, output) == 0 else { throw VolumeError.io("rename to \(output)", errno: errno) }
        self.tmp = nil
    }

    /// Removes the temporary file (after an error).
    func abandon() {
        if fd >= 0 { close(fd); fd = -1 }
        if let tmp { unlink(tmp) }
        tmp = nil
    }
}
