// First end-to-end checks of the store: create, write, read, list, cap, fsck.
import Foundation
import XCTest
@testable import VolumeCore

final class SmokeTests: XCTestCase {
    func testWriteReadListAndFsck() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smoke-\(UUID())")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try VolumeStore(dataDir: dir)
        let info = try store.createVolume(owner: "t1", name: "data")
        let v = try store.volume(info.volumeId, owner: "t1")
        try v.writeFile("/a/b/hello.txt", data: Data("hello".utf8), createParents: true)
        let big = Data((0..<3_000_000).map { UInt8($0 % 251) })
        try v.writeFile("/big.bin", data: big)
        XCTAssertEqual(try v.readFile("/a/b/hello.txt"), Data("hello".utf8))
        XCTAssertEqual(try v.readFile("/big.bin"), big)
        XCTAssertEqual(try v.readFile("/big.bin", offset: 1_048_570, length: 20), big[1_048_570..<1_048_590])
        XCTAssertEqual(try v.list("/").map(\.name), ["a", "big.bin"])
        XCTAssertEqual(try v.list("/", depth: 3).map(\.path), ["/a", "/a/b", "/a/b/hello.txt", "/big.bin"])
        XCTAssertEqual(try store.info(info.volumeId, owner: "t1").sizeBytes, 3_000_005)
        XCTAssertThrowsError(try store.info(info.volumeId, owner: "t2")) { XCTAssertEqual(($0 as? VolumeError)?.code, "not_found") }
        let reports = try store.fsck()
        XCTAssertEqual(reports.first?.problems, [])
    }
}
