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

    /// Buffers of exactly this size (a whole default block, the size of a sequential writer's
    /// requests) are recycled instead of freed: a fresh allocation per request costs a page fault
    /// per 4 KiB on first touch, more than the copy into it.
    public static let pooledSize = 1 << 20
    /// Room each pooled buffer keeps before and after its `pooledSize` bytes, so that a FUSE
    /// request can be read straight into it: its headers in front of the data, the rest of the
    /// request buffer after it.
    public static let pooledRoom = alignment
    /// Free pooled buffers kept at most (the pool never holds more than this many MiB idle).
    static let poolLimit = 16
    private static let pool = Mutex<[PooledBuffer]>([])
    /// A free buffer of the pool, owned by the pool alone.
    private struct PooledBuffer: @unchecked Sendable { let pointer: UnsafeMutableRawPointer }

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
    public static func takePooled() -> UnsafeMutableRawPointer? {
        if let p = pool.withLock({ $0.popLast()?.pointer }) { return p }
        return allocate(pooledSize + 2 * pooledRoom).map { $0 + pooledRoom }
    }

    /// The `pooledSize` bytes of pooled buffer `p` as `Data`, which hands the buffer back to the
    /// pool when it is freed.
    public static func wrapPooled(_ p: UnsafeMutableRawPointer) -> Data {
        Data(bytesNoCopy: p, count: pooledSize, deallocator: .custom { p, _ in recycle(p) })
    }

    /// `count` bytes on a page boundary (release with `free`), or nil when memory is short.
    static func allocate(_ count: Int) -> UnsafeMutableRawPointer? {
        var raw: UnsafeMutableRawPointer?
        return posix_memalign(&raw, alignment, count) == 0 ? raw : nil
    }

    /// Hands pooled buffer `p` (from `takePooled`) back to the pool, or frees it when the pool is full.
    public static func recycle(_ p: UnsafeMutableRawPointer) {
        let kept = pool.withLock { free -> Bool in
            guard free.count < poolLimit else { return false }
            free.append(PooledBuffer(pointer: p))
            return true
        }
        if !kept { Glibc.free(p - pooledRoom) }
    }

    /// Free whole-block buffers by size (`takeBlock`), at most `blockPoolBytes` bytes of them idle.
    private static let blockPool = Mutex<[Int: [PooledBuffer]]>([:])
    static let blockPoolBytes = 32 << 20

    /// A page-aligned buffer of `size` bytes for a block being filled (`BlockFill`), from the pool
    /// when it has one; nil when memory is short. Hand it back with `recycleBlock`.
    public static func takeBlock(_ size: Int) -> UnsafeMutableRawPointer? {
        if let p = blockPool.withLock({ $0[size]?.popLast()?.pointer }) { return p }
        return allocate(size)
    }

    /// Hands block buffer `p` of `size` bytes back to the pool, or frees it when the pool is full.
    public static func recycleBlock(_ p: UnsafeMutableRawPointer, size: Int) {
        let kept = blockPool.withLock { free -> Bool in
            let idle = free.reduce(0) { $0 + $1.key * $1.value.count }
            guard idle + size <= blockPoolBytes else { return false }
            free[size, default: []].append(PooledBuffer(pointer: p))
            return true
        }
        if !kept { Glibc.free(p) }
    }

    /// Whether `p` starts on a page boundary.
    static func isAligned(_ p: UnsafeRawPointer) -> Bool { Int(bitPattern: p) % alignment == 0 }
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
