// Which inodes other processes hold open: byte-range locks on a volume's `-opens` file.
import CSupport
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Marks, visible to every process, of the regular files a process holds open, so that a file
/// unlinked by one process stays readable and writable through another's handles until they close.
///
/// A process holding inode `ino` open keeps a read lock on byte `ino` of the volume's `-opens`
/// file. Before it deletes an unlinked file, a process takes a write lock on that byte: while
/// anyone holds the file open the lock is refused and the file is kept as an orphan instead; once
/// taken, it is kept until the deletion is committed, so an open that races the deletion waits
/// for it and then finds no file. The locks are open file description locks: the kernel drops them
/// when the process exits, however it exits, so a crash leaves no mark behind. Each role has its
/// own description, so a process's own marks also stop its own deletions (as other processes').
final class OpenMarks: Sendable {
    /// Read locks: the files this process holds open.
    private let held: Int32
    /// Write locks: deletions not yet committed.
    private let deleting: Int32
    /// Short read locks taken only to wait for a deletion in flight.
    private let waiting: Int32
    /// Handles-per-inode counts behind `held`'s locks.
    private let counts = Mutex<[UInt64: Int]>([:])

    /// Opens (creating it if needed) the marks file at `path`.
    init(path: String) throws {
        var fds: [Int32] = []
        for _ in 0..<3 {
            let fd = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                let e = errno
                fds.forEach { _ = Glibc.close($0) }
                throw VolumeError.io("cannot open the open-file marks \(path): \(String(cString: strerror(e)))", errno: e)
            }
            fds.append(fd)
        }
        (held, deleting, waiting) = (fds[0], fds[1], fds[2])
    }

    deinit {
        for fd in [held, deleting, waiting] { _ = Glibc.close(fd) }
    }

    /// Marks `ino` open by one more handle of this process. Waits while another process (or this
    /// one) is committing the file's deletion; the caller then finds the file gone.
    func hold(_ ino: UInt64) throws {
        while true {
            let taken = try counts.withLock { c -> Bool in
                if let n = c[ino] { c[ino] = n + 1; return true }
                if csupport_ofd_lock(held, Int64(bitPattern: ino), 1, 1, 0) == 0 { c[ino] = 1; return true }
                guard errno == EAGAIN || errno == EACCES else { throw Self.failure("mark inode \(ino) open") }
                return false
            }
            if taken { return }
            // A deletion is in flight: wait for its lock to go (without holding `counts`, which
            // the deleting thread may need to release its own marks), then try again.
            try syscall("cannot wait for the deletion of inode \(ino)") { csupport_ofd_lock(waiting, Int64(bitPattern: ino), 1, 1, 1) }
            _ = csupport_ofd_lock(waiting, Int64(bitPattern: ino), 1, 0, 0)
        }
    }

    /// Drops one handle's mark on `ino`; the last one removes the lock.
    func drop(_ ino: UInt64) {
        counts.withLock { c in
            guard let n = c[ino] else { return }
            if n > 1 { c[ino] = n - 1; return }
            c[ino] = nil
            _ = csupport_ofd_lock(held, Int64(bitPattern: ino), 1, 0, 0)
        }
    }

    /// Takes the deletion lock on `ino`: false while any process (this one included) holds the
    /// file open. Release it with `endDeletions` once the deletion is committed or rolled back.
    func beginDeletion(_ ino: UInt64) -> Bool {
        csupport_ofd_lock(deleting, Int64(bitPattern: ino), 1, 2, 0) == 0
    }

    /// Releases the locks `beginDeletion` took on each of `inos`, one call per run of consecutive
    /// numbers (files made one after another and deleted together are numbered in a row).
    func endDeletions(_ inos: [UInt64]) {
        var i = 0
        let sorted = inos.sorted()
        while i < sorted.count {
            var j = i + 1
            while j < sorted.count && sorted[j] <= sorted[j - 1] + 1 { j += 1 }
            let first = sorted[i], count = sorted[j - 1] - first + 1
            _ = csupport_ofd_lock(deleting, Int64(bitPattern: first), Int64(bitPattern: count), 0, 0)
            i = j
        }
    }

    private static func failure(_ what: String) -> VolumeError {
        let e = errno
        return VolumeError.io("cannot \(what): \(String(cString: strerror(e)))", errno: e)
    }
}
