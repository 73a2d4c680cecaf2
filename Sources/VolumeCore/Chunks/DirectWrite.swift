// Writing chunk files around the page cache (O_DIRECT): page-aligned buffers and the aligned-prefix write.
import Foundation
import Synchronization
import SystemPackage
import CSupport

#if canImport(Glibc)
import Glibc
#endif

/// Buffers whose bytes start on a page boundary, so a chunk store can hand them to the disk with
/// O_DIRECT without copying them first.
public enum AlignedBytes {
    /// The alignment O_DIRECT needs of buffer addresses, lengths and offsets on every Linux disk.
    public static let alignment = 4096

    /// Buffers of exactly this size (the FUSE `max_write`, so the size of a sequential writer's
    /// requests; a quarter of a default block) are recycled instead of freed: a fresh allocation per request costs a page fault
    /// per 4 KiB on first touch, more than the copy into it.
    public static let pooledSize = 1 << 20
    /// Room each pooled buffer keeps before and after its `pooledSize` bytes, so that a FUSE
    /// request can be read straight into it: its headers in front of the data, the rest of the
    /// request buffer after it.
    public static let pooledRoom = alignment
    /// Free pooled buffers kept at most (the pool never holds more than this many MiB idle).
    static let poolLimit = 16
    /// The buffers FUSE requests are read into (`takePooled`).
    private static let requests = BufferPool(size: pooledSize, room: pooledRoom, keep: poolLimit)

    /// A copy of `count` bytes at `source` in a page-aligned allocation.
    public static func copy(_ source: UnsafeRawPointer, count: Int) -> Data {
        guard count >= alignment else { return Data(bytes: source, count: count) }
        if count == pooledSize, let buffer = takePooled() {
            buffer.copyMemory(from: source, byteCount: count)
            return wrapPooled(buffer)
        }
        guard let buffer = allocate(count) else { return Data(bytes: source, count: count) }
        buffer.copyMemory(from: source, byteCount: count)
        return Data(bytesNoCopy: buffer, count: count, deallocator: .free)
    }

    /// A buffer of the pool: `pooledSize` bytes at a page boundary with `pooledRoom` bytes of room
    /// on either side, or nil when memory is short. Hand it back with `recycle`, or to a `Data`
    /// with `wrapPooled`.
    public static func takePooled() -> UnsafeMutableRawPointer? { requests.take() }

    /// The `pooledSize` bytes of pooled buffer `p` as `Data`, which hands the buffer back to the
    /// pool when it is freed.
    public static func wrapPooled(_ p: UnsafeMutableRawPointer) -> Data { requests.wrap(p, count: pooledSize) }

    /// `count` bytes on a page boundary (release with `free`), or nil when memory is short.
    static func allocate(_ count: Int) -> UnsafeMutableRawPointer? {
        var raw: UnsafeMutableRawPointer?
        return posix_memalign(&raw, alignment, count) == 0 ? raw : nil
    }

    /// Hands pooled buffer `p` (from `takePooled`) back to the pool, or frees it when the pool is full.
    public static func recycle(_ p: UnsafeMutableRawPointer) { requests.give(p) }

    /// Idle bytes each pool of whole-block buffers keeps at most.
    static let blockPoolBytes = 32 << 20
    private static let blockPools = Mutex<[Int: BufferPool]>([:])

    /// The pool of page-aligned buffers of `size` bytes for blocks being filled (`BlockFill`).
    static func blockPool(_ size: Int) -> BufferPool {
        blockPools.withLock { pools in
            if let p = pools[size] { return p }
            let p = BufferPool(size: size, room: 0, keep: max(1, blockPoolBytes / size))
            pools[size] = p
            return p
        }
    }

    /// Whether `p` starts on a page boundary.
    static func isAligned(_ p: UnsafeRawPointer) -> Bool { Int(bitPattern: p) % alignment == 0 }
}

/// Page-aligned buffers of one size, recycled instead of freed: a fresh allocation costs a page
/// fault per 4 KiB on first touch. Each buffer may keep `room` bytes before and after its `size`.
final class BufferPool: Sendable {
    let size: Int
    let room: Int
    /// Free buffers kept at most; more are freed.
    let keep: Int
    private let free = Mutex<[Buffer]>([])
    /// A free buffer, owned by the pool alone.
    private struct Buffer: @unchecked Sendable { let pointer: UnsafeMutableRawPointer }

    init(size: Int, room: Int, keep: Int) {
        self.size = size
        self.room = room
        self.keep = keep
    }

    /// A buffer of `size` bytes on a page boundary (with `room` on either side), or nil when
    /// memory is short. Hand it back with `give`, or to a `Data` with `wrap`.
    func take() -> UnsafeMutableRawPointer? {
        if let p = free.withLock({ $0.popLast()?.pointer }) { return p }
        return AlignedBytes.allocate(size + 2 * room).map { $0 + room }
    }

    /// Hands buffer `p` (from `take`) back, or frees it when the pool is full.
    func give(_ p: UnsafeMutableRawPointer) {
        let kept = free.withLock { free -> Bool in
            guard free.count < keep else { return false }
            free.append(Buffer(pointer: p))
            return true
        }
        if !kept { Glibc.free(p - room) }
    }

    /// The first `count` bytes of buffer `p` as `Data`, which gives the buffer back when it is freed.
    func wrap(_ p: UnsafeMutableRawPointer, count: Int) -> Data {
        Data(bytesNoCopy: p, count: count, deallocator: .custom { [self] p, _ in give(p) })
    }
}

/// How a chunk file is written: around the page cache when the disk allows it.
enum ChunkFileWriter {
    /// Creates `path` (which must not exist) and writes `data` to it. The page-aligned prefix goes
    /// straight to the disk (O_DIRECT): a large chunk is not copied into the page cache, and the sync
    /// that makes it durable has only the tail and the metadata left to flush. Falls back to an
    /// ordinary write where the file system refuses O_DIRECT (ramfs, tmpfs before Linux 6.6, some
    /// FUSE stores), remembering that in `direct`. `startWriteback`: start writing what went through
    /// the page cache at once.
    static func write(_ data: Data, to path: String, direct: inout Bool, startWriteback: Bool) throws {
        let mode: mode_t = 0o644
        let alignedLength = data.count - data.count % AlignedBytes.alignment
        var useDirect = direct && alignedLength > 0
        var fd: Int32 = -1
        if useDirect {
            fd = csupport_create_direct(path, UInt32(mode))
            if fd == -1 && errno == EINVAL {
                direct = false
                useDirect = false
                // The kernel refuses O_DIRECT only after it has created the file: open that one.
                fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
            }
        } else {
            fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        }
        guard fd != -1 else { throw VolumeError.io("create chunk \(path)", errno: errno) }
        let file = FileDescriptor(rawValue: fd)
        defer { try? file.close() }
        try data.withUnsafeBytes { (buf: UnsafeRawBufferPointer) in
            guard let base = buf.baseAddress, buf.count > 0 else { return }
            var done = 0
            if useDirect {
                done = try writeDirect(file, buf, alignedLength: alignedLength)
                if done < alignedLength { direct = false }
                guard csupport_clear_direct(fd) == 0 else { throw VolumeError.io("clear O_DIRECT on \(path)", errno: errno) }
            }
            if done < buf.count {
                do {
                    _ = try file.writeAll(toAbsoluteOffset: Int64(done), UnsafeRawBufferPointer(start: base + done, count: buf.count - done))
                } catch let e as Errno { throw VolumeError.io("write chunk \(path)", errno: e.rawValue) }
                if startWriteback { _ = csupport_start_writeback(fd) }
            }
        }
    }

    /// Writes the first `alignedLength` bytes with O_DIRECT, copying them to an aligned buffer when
    /// the caller's are not. Returns how many were written (0 when the disk refused: EINVAL).
    private static func writeDirect(_ file: FileDescriptor, _ buf: UnsafeRawBufferPointer, alignedLength: Int) throws -> Int {
        var source = UnsafeRawBufferPointer(rebasing: buf[0..<alignedLength])
        var scratch: UnsafeMutableRawPointer?
        defer { free(scratch) }
        if !AlignedBytes.isAligned(buf.baseAddress!) {
            scratch = AlignedBytes.allocate(alignedLength)
            guard let scratch else { return 0 }
            scratch.copyMemory(from: buf.baseAddress!, byteCount: alignedLength)
            source = UnsafeRawBufferPointer(start: scratch, count: alignedLength)
        }
        do {
            return try file.writeAll(toAbsoluteOffset: 0, source)
        } catch let e as Errno {
            if e == .invalidArgument { return 0 }
            throw VolumeError.io("write chunk", errno: e.rawValue)
        }
    }
}
