// A 64-bit counter in a small file mapped by every process of a data directory: one bumps it, all see it at once.
import CSupport
import Foundation

/// A counter at the start of `path`, mapped shared: `bump` in any process of the host is seen by `value`
/// in every other at once, with no system call and no I/O (a memory read). Used as the API keys' change
/// epoch (`keys.epoch`): a revoke bumps it after its commit, and `KeyCache` entries of an older epoch
/// are not used. Nil when the file cannot be created or mapped (then nothing may be cached).
final class SharedCounter: @unchecked Sendable {
    private let pointer: UnsafeMutablePointer<UInt64>
    private static let size = 8

    init?(path: String) {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return nil }
        if st.st_size < Self.size {
            guard ftruncate(fd, off_t(Self.size)) == 0 else { return nil }
        }
        guard let raw = mmap(nil, Self.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), raw != MAP_FAILED else { return nil }
        pointer = raw.bindMemory(to: UInt64.self, capacity: 1)
        _ = value  // the page is read in now, not at a later read on an event loop
    }

    deinit { munmap(UnsafeMutableRawPointer(pointer), Self.size) }

    /// The counter now.
    var value: UInt64 { UInt64(csupport_shared_load(UnsafeMutablePointer<CUnsignedLongLong>(OpaquePointer(pointer)))) }

    /// Adds one, for every process that maps the file.
    func bump() { _ = csupport_shared_add(UnsafeMutablePointer<CUnsignedLongLong>(OpaquePointer(pointer)), 1) }
}
