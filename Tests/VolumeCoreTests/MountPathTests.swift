// MountPath: which sandbox mount paths are accepted, and what each refusal says (a table).
import Foundation
import XCTest
@testable import VolumeCore

final class MountPathTests: XCTestCase {
    func testAcceptedPaths() throws {
        for text in ["/data", "/mnt/volumes/a", "/home/user/data", "/workspace", "/etcetera", "/lib64x", "/proc2/x",
                     "/srv/" + String(repeating: "n", count: 255), "/data set", "/données", "/a:b"] {
            XCTAssertEqual(try MountPath(text).path, text, text)
        }
    }

    func testRefusedPathsSayWhy() {
        let long = "/" + Array(repeating: "abcdefgh", count: 600).joined(separator: "/")
        let table: [(String, String)] = [
            ("", "is empty"),
            ("data", "is not absolute"),
            ("./data", "is not absolute"),
            ("/", "root directory"),
            ("//", "root directory"),
            ("/.", "root directory"),
            ("/data/", "ends with '/': it is not normalised; use '/data'"),
            ("/data//x", "contains '//': it is not normalised; use '/data/x'"),
            ("/data/./x", "contains a '.' component: it is not normalised; use '/data/x'"),
            ("/data/..", "contains '..'"),
            ("/data/../etc", "contains '..'"),
            ("/data\u{0}x", "NUL"),
            ("/data\nx", "control character"),
            ("/" + String(repeating: "n", count: 256), "256 bytes; the limit is 255"),
            (long, "the limit is 4096"),
            ("/etc", "is the system directory /etc"),
            ("/etc/app", "is under the system directory /etc"),
            ("/usr/local/data", "under the system directory /usr"),
            ("/proc", "system directory /proc"),
            ("/sys/fs", "system directory /sys"),
            ("/dev/shm", "system directory /dev"),
            ("/bin", "system directory /bin"),
            ("/sbin", "system directory /sbin"),
            ("/lib", "system directory /lib"),
            ("/lib64/x", "system directory /lib64"),
            ("/var/lib/data", "system directory /var"),
            ("/run/x", "system directory /run"),
            ("/boot", "system directory /boot"),
        ]
        for (text, why) in table {
            XCTAssertThrowsError(try MountPath(text), "\(text.debugDescription) must be refused") { e in
                guard let ve = e as? VolumeError, case .invalidMountPath(let message) = ve else {
                    return XCTFail("\(text.debugDescription): \(e)")
                }
                XCTAssertEqual(ve.code, "invalid_mount_path")
                XCTAssertTrue(message.contains(why), "\(text.debugDescription): '\(message)' should say '\(why)'")
            }
        }
    }

    func testCodableValidates() throws {
        let decoded = try JSONDecoder().decode([MountPath].self, from: Data(#"["/data"]"#.utf8))
        XCTAssertEqual(decoded, [try MountPath("/data")])
        XCTAssertEqual(String(decoding: try JSONEncoder().encode(decoded), as: UTF8.self), #"["\/data"]"#)
        XCTAssertThrowsError(try JSONDecoder().decode([MountPath].self, from: Data(#"["/etc/x"]"#.utf8)))
    }
}
