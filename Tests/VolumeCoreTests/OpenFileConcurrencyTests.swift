// Handles on one file used from several threads at once: opens and releases must not take the
// file's state lock under the volume's open-files lock while commits hold them the other way round.
import Foundation
import VolumeCore
import VolumeTestSupport
import XCTest

final class OpenFileConcurrencyTests: XCTestCase {
    func testOpenReleaseTruncateAndWriteOnOneFileFromManyThreads() throws {
        let ts = try TestStore()
        defer { ts.remove() }
        let vol = ts.volume
        try vol.writeFile("/f", data: Data("start".utf8))
        let ino = try vol.attributes(at: "/f").ino
        let caller = Caller(uid: 0, gid: 0, origin: 1)
        let errors = ErrorBox()
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            for i in 0..<300 {
                do {
                    try vol.open(ino)
                    switch (worker + i) % 3 {
                    case 0: try vol.truncate(ino, to: Int64(i % 50), caller: caller)
                    case 1: try vol.write(ino, offset: Int64(i), data: Data("w\(worker)".utf8), caller: caller)
                    default: _ = try vol.read(ino, offset: 0, count: 64)
                    }
                    try vol.flush(ino, caller: caller)
                    try vol.release(ino, caller: caller)
                } catch {
                    errors.add("\(worker)/\(i): \(error)")
                }
            }
        }
        XCTAssertEqual(errors.all, [])
        XCTAssertEqual(try ts.fsckProblems(), [])
    }
}

private final class ErrorBox: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [String] = []
    func add(_ s: String) { lock.lock(); list.append(s); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return list }
}
