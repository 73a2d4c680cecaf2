// The first end-to-end check: mount, write and read through the kernel, unmount.
import Foundation
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
}
