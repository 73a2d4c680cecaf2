// The files API's `user` text and the owner swap of a mount, as pure values.
import VolumeCore
import XCTest

final class FileOwnerTests: XCTestCase {
    func testUserTextIsRootOrNumericIDs() throws {
        XCTAssertEqual(try FileOwner(parsing: "root"), .root)
        XCTAssertEqual(try FileOwner(parsing: "1000"), FileOwner(uid: 1000, gid: 1000))
        XCTAssertEqual(try FileOwner(parsing: "1000:50"), FileOwner(uid: 1000, gid: 50))
        XCTAssertEqual(try FileOwner(parsing: "0:0"), .root)
        XCTAssertEqual(try FileOwner(parsing: "4294967294"), FileOwner(uid: 4_294_967_294, gid: 4_294_967_294))
        for bad in ["", "user", "nobody", "-1", "1000:", ":1000", "1000:50:1", " 1000", "1e3", "4294967295", "99999999999", "root:0"] {
            XCTAssertThrowsError(try FileOwner(parsing: bad), "'\(bad)'") { e in
                guard case VolumeError.invalidArgument(let why) = e else { return XCTFail("\(e)") }
                XCTAssertTrue(why.contains("unknown user"), why)
            }
        }
    }

    func testTheMappingSwapsRootAndTheOwnerAndIsItsOwnInverse() {
        let m = OwnerMapping(FileOwner(uid: 1000, gid: 2000))
        XCTAssertEqual([m.uid(0), m.uid(1000), m.uid(5)], [1000, 0, 5])
        XCTAssertEqual([m.gid(0), m.gid(2000), m.gid(1000)], [2000, 0, 1000])
        for id: UInt32 in [0, 1, 999, 1000, 1001, 2000, 65534, UInt32.max] {
            XCTAssertEqual(m.uid(m.uid(id)), id)
            XCTAssertEqual(m.gid(m.gid(id)), id)
        }
        let c = m.stored(Caller(uid: 1000, gid: 2000, origin: 7))
        XCTAssertEqual(c, Caller(uid: 0, gid: 0, origin: 7))
    }
}
