// quota set | show | clear, and writes past the cap, run through the built binary.
import Foundation
import XCTest

final class QuotaCommandTests: XCTestCase {
    func testSetShowAndAPutOverTheCapFailsAndChangesNothing() throws {
        let cli = try CLI()
        let id = try cli.createVolume("data")
        let shown = try cli.ok("quota", "show", "data", "--json").jsonObject()
        XCTAssertEqual(Set(shown.keys), ["volume_id", "cap_bytes", "used_bytes", "source"], "nil overrides are left out")
        XCTAssertEqual((shown["cap_bytes"] as? NSNumber)?.int64Value, 2 << 30)
        XCTAssertEqual(shown["source"] as? String, "default")

        try cli.put("data", "/first.bin", String(repeating: "a", count: 600))
        let set = try cli.ok("quota", "set", "data", "1KiB")
        XCTAssertTrue(set.stdout.contains("cap_bytes:        1024 (1.0 KiB)"), set.stdout)
        XCTAssertTrue(set.stdout.contains("source:           volume"), set.stdout)
        let after = try cli.ok("quota", "show", id, "--json").jsonObject()
        XCTAssertEqual((after["cap_bytes"] as? NSNumber)?.int64Value, 1024)
        XCTAssertEqual((after["used_bytes"] as? NSNumber)?.int64Value, 600)
        XCTAssertEqual((after["volume_override"] as? NSNumber)?.int64Value, 1024)
        XCTAssertEqual(try cli.ok("volume", "inspect", "data", "--field", "quota_bytes").stdout, "1024\n")

        // A new file past the cap: exit 5, the message names the volume, usage and cap; nothing changes.
        try cli.fails(5, "files", "put", "data", "/second.bin", stdin: Data(repeating: 98, count: 600),
                      mentioning: [id, "cap", "600 B", "1.0 KiB", "volumectl quota set"])
        XCTAssertEqual(try cli.run("files", "exists", "data", "/second.bin").stdout, "false\n")
        // Replacing a file with a larger one past the cap: the old bytes stay.
        try cli.fails(5, "files", "put", "data", "/first.bin", stdin: Data(repeating: 99, count: 2000))
        XCTAssertEqual(try cli.cat("data", "/first.bin"), String(repeating: "a", count: 600))
        // Parents a refused put would have created are not left behind either.
        try cli.fails(5, "files", "put", "data", "/new/dir/big", stdin: Data(repeating: 1, count: 2000))
        XCTAssertEqual(try cli.run("files", "exists", "data", "/new").stdout, "false\n")
        XCTAssertEqual(try cli.ok("volume", "inspect", "data", "--field", "size_bytes").stdout, "600\n")
        XCTAssertEqual(try cli.ok("volume", "inspect", "data", "--field", "file_count").stdout, "1\n")
        // A replace that would cross the cap changes nothing either.
        try cli.fails(5, "files", "replace", "data", "--glob", "*", "--old", "a", "--new", "aaaa")
        XCTAssertEqual(try cli.cat("data", "/first.bin"), String(repeating: "a", count: 600))
        // Up to the cap is fine.
        try cli.ok("files", "put", "data", "/fits.bin", stdin: Data(repeating: 100, count: 424))
        try cli.ok("fsck", "data")

        // A cap below the usage is refused; clear returns to the default.
        try cli.fails(64, "quota", "set", "data", "512", mentioning: ["already uses"])
        try cli.ok("quota", "clear", "data")
        XCTAssertEqual(try cli.ok("quota", "show", "data", "--json").jsonObject()["source"] as? String, "default")
        try cli.ok("files", "put", "data", "/second.bin", stdin: Data(repeating: 98, count: 600))
    }

    func testTenantCapAppliesToVolumesWithoutTheirOwn() throws {
        let cli = try CLI()
        _ = try cli.createVolume("a", "--owner", "acme")
        _ = try cli.createVolume("b", "--owner", "acme")
        let set = try cli.ok("quota", "set", "--tenant", "acme", "1MiB", "--json").jsonObject()
        XCTAssertEqual(set["tenant"] as? String, "acme")
        XCTAssertEqual((set["cap_bytes"] as? NSNumber)?.int64Value, 1 << 20)
        try cli.ok("quota", "set", "b", "4MiB")
        let a = try cli.ok("quota", "show", "a", "--json").jsonObject()
        XCTAssertEqual(a["source"] as? String, "tenant")
        XCTAssertEqual((a["cap_bytes"] as? NSNumber)?.int64Value, 1 << 20)
        XCTAssertEqual(try cli.ok("quota", "show", "b", "--json").jsonObject()["source"] as? String, "volume")
        // New volumes of the tenant follow the tenant cap.
        _ = try cli.createVolume("c", "--owner", "acme")
        XCTAssertEqual(try cli.ok("volume", "inspect", "c", "--field", "quota_bytes").stdout, "\(1 << 20)\n")
        try cli.fails(5, "files", "put", "c", "/big", stdin: Data(count: (1 << 20) + 1))
        try cli.ok("quota", "clear", "--tenant", "acme")
        XCTAssertEqual(try cli.ok("quota", "show", "a", "--json").jsonObject()["source"] as? String, "default")
    }

    func testQuotaRejectsBadSizesAndArguments() throws {
        let cli = try CLI()
        _ = try cli.createVolume("data")
        try cli.fails(64, "quota", "set", "data", "12XB", mentioning: ["unknown unit", "12XB"])
        try cli.fails(64, "quota", "set", "data", "--", "-1", mentioning: ["'-1' is not a size"])
        try cli.fails(64, "quota", "set", "data", "-1")
        try cli.fails(64, "quota", "set", "data", "0", mentioning: ["positive"])
        try cli.fails(64, "quota", "set", "data", "lots", mentioning: ["not a size"])
        try cli.fails(64, "quota", "set", "data", "", mentioning: ["not a size"])
        try cli.fails(64, "quota", "set", "data", "99999999TiB", mentioning: ["too large"])
        try cli.fails(64, "quota", "set", "data", mentioning: ["VOLUME and SIZE"])
        try cli.fails(64, "quota", "set", mentioning: ["VOLUME and SIZE"])
        try cli.fails(64, "quota", "set", "data", "1GiB", "extra", mentioning: ["VOLUME and SIZE"])
        try cli.fails(64, "quota", "set", "--tenant", "acme", "data", "1GiB", mentioning: ["just SIZE"])
        try cli.fails(64, "quota", "set", "--tenant", "bad tenant!", "1GiB", mentioning: ["tenant"])
        try cli.fails(64, "quota", "clear", mentioning: ["VOLUME", "--tenant"])
        try cli.fails(64, "quota", "clear", "data", "--tenant", "acme", mentioning: ["not both"])
        try cli.fails(3, "quota", "set", "novol", "1GiB", mentioning: ["novol"])
        try cli.fails(3, "quota", "show", "novol")
        try cli.fails(3, "quota", "clear", "novol")
        XCTAssertEqual(try cli.ok("quota", "show", "data", "--json").jsonObject()["source"] as? String, "default", "nothing changed")
        // Units that are accepted.
        for (text, bytes) in [("512MiB", Int64(512) << 20), ("4GiB", Int64(4) << 30), ("1.5G", Int64(3) << 29), ("10GB", Int64(10_000_000_000)), ("1048576", Int64(1 << 20))] {
            let q = try cli.ok("quota", "set", "data", text, "--json").jsonObject()
            XCTAssertEqual((q["cap_bytes"] as? NSNumber)?.int64Value, bytes, text)
        }
    }
}
