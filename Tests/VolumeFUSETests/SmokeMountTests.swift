// The first end-to-end checks: mount, write and read through the kernel, unmount; whole 1 MiB blocks kept without a copy (and 4 MiB blocks copied once); request threads started as needed.
import Foundation
import Synchronization
import VolumeCore
import VolumeFUSE
import VolumeTestSupport
import XCTest

final class SmokeMountTests: MountTestCase {
    func testWriteReadThroughTheKernel() throws {
        let ts = try TestStore(commitWindow: StoreOptions.mountCommitWindow)
        defer { ts.remove() }
        try withMount(ts.volume) { m in
            let p = m.mountpoint + "/hello.txt"
            try Data("hello".utf8).write(to: URL(fileURLWithPath: p))
            XCTAssertEqual(try String(contentsOfFile: p, encoding: .utf8), "hello")
            try FileManager.default.createDirectory(atPath: m.mountpoint + "/d/e", withIntermediateDirectories: true)
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: m.mountpoint).sorted(), ["d", "hello.txt"])
        }
        XCTAssertEqual(try ts.volume.readFile("/hello.txt"), Data("hello".utf8))
        assertFsckClean(ts)
    }

    /// On a volume of 1 MiB blocks, a whole-block write keeps its request buffer as the block's
    /// bytes (no copy): the buffers must still be held when their requests end, and every byte must
    /// still read back, so a buffer the request loop reused too early would show here.
    func testWholeBlockWritesKeptWithoutACopyReadBack() throws {
        let block = 1 << 20
        let ts = try TestStore(blockSize: block, commitWindow: StoreOptions.mountCommitWindow)
        defer { ts.remove() }
        var expected = Data()
        for i in 0..<12 { expected.append(Data((0..<block).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i &* 7 &+ $0 >> 12) })) }
        try withMount(ts.volume) { m in
            let p = m.mountpoint + "/big"
            let fd = try Sys.open(p, O_CREAT | O_WRONLY, 0o644)
            for i in 0..<10 { try Sys.write(fd, [UInt8](expected[i * block..<(i + 1) * block]), at: Int64(i * block)) }
            XCTAssertGreaterThanOrEqual(m.requestBuffersKept, 10, "whole-block writes keep their request buffers as the blocks")
            // A whole-size write across two blocks, then a small one inside a kept block.
            let across = 10 * block + 4096
            try Sys.write(fd, [UInt8](expected[across..<across + block]), at: Int64(across))
            try Sys.write(fd, [UInt8](expected[10 * block..<across]), at: Int64(10 * block))
            try Sys.write(fd, [UInt8](expected[across + block..<12 * block]), at: Int64(across + block))
            expected.replaceSubrange(3 * block + 100..<3 * block + 200, with: Data(repeating: 0xEE, count: 100))
            try Sys.write(fd, [UInt8](repeating: 0xEE, count: 100), at: Int64(3 * block + 100))
            try Sys.close(fd)
            let rfd = try Sys.open(p, O_RDONLY)
            XCTAssertEqual(Data(try Sys.read(rfd, count: 12 * block, at: 0)), expected, "read through the mount")
            close(rfd)
        }
        XCTAssertEqual(try ts.volume.readFile("/big"), expected, "read through the core")
        assertFsckClean(ts)
    }

    /// With the default 4 MiB blocks a 1 MiB write is a quarter of a block: its request buffer is
    /// taken (not copied out) but not kept, since the core copies it once into the block being filled.
    func testQuarterBlockWritesAreCopiedOnceIntoTheirBlock() throws {
        let ts = try TestStore(commitWindow: StoreOptions.mountCommitWindow)
        defer { ts.remove() }
        XCTAssertEqual(ts.volume.blockSize, 4 << 20)
        let piece = 1 << 20
        let expected = Data((0..<(8 * piece)).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ $0 >> 10) })
        try withMount(ts.volume) { m in
            let p = m.mountpoint + "/big"
            let fd = try Sys.open(p, O_CREAT | O_WRONLY, 0o644)
            for i in 0..<8 { try Sys.write(fd, [UInt8](expected[i * piece..<(i + 1) * piece]), at: Int64(i * piece)) }
            try Sys.close(fd)
            XCTAssertGreaterThanOrEqual(m.requestBuffersTaken, 8, "1 MiB writes take their request buffers")
            XCTAssertEqual(m.requestBuffersKept, 0, "a quarter of a block is copied into the block, not kept")
        }
        XCTAssertEqual(try ts.volume.readFile("/big"), expected)
        assertFsckClean(ts)
    }

    /// A one-at-a-time client is served by a few threads, not by all of them in turn; sixteen
    /// clients at once get more, up to the maximum; every file of both arrives whole.
    func testRequestThreadsStartAsRequestsNeedThem() throws {
        let ts = try TestStore(commitWindow: StoreOptions.mountCommitWindow)
        defer { ts.remove() }
        var options = MountOptions()
        options.maxThreads = 8
        try withMount(ts.volume, options: options) { m in
            for i in 0..<200 {
                try Data("serial \(i)".utf8).write(to: URL(fileURLWithPath: m.mountpoint + "/s\(i)"))
            }
            XCTAssertLessThan(m.requestThreads, options.maxThreads, "a serial client must not need every thread")

            let clients = 16
            let failures = Mutex<[String]>([])
            let group = DispatchGroup()
            for c in 0..<clients {
                group.enter()
                Thread {
                    defer { group.leave() }
                    for i in 0..<40 {
                        let p = m.mountpoint + "/c\(c)-\(i)"
                        do { try Data("client \(c) file \(i)".utf8).write(to: URL(fileURLWithPath: p)) } catch {
                            failures.withLock { $0.append("\(p): \(error)") }
                        }
                    }
                }.start()
            }
            group.wait()
            XCTAssertEqual(failures.withLock { $0 }, [])
            XCTAssertGreaterThanOrEqual(m.requestThreads, 4, "sixteen clients at once get more threads")
            XCTAssertLessThanOrEqual(m.requestThreads, options.maxThreads)
        }
        for i in 0..<200 { XCTAssertEqual(try ts.volume.readFile("/s\(i)"), Data("serial \(i)".utf8)) }
        for c in 0..<16 {
            for i in 0..<40 { XCTAssertEqual(try ts.volume.readFile("/c\(c)-\(i)"), Data("client \(c) file \(i)".utf8)) }
        }
        assertFsckClean(ts)
    }
}
