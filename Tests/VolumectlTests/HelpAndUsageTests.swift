// --help on every command (with examples), and usage errors as one line with exit 64.
import Foundation
import XCTest

final class HelpAndUsageTests: XCTestCase {
    static let leaves: [[String]] = [
        ["volume", "create"], ["volume", "list"], ["volume", "inspect"], ["volume", "delete"],
        ["files", "put"], ["files", "cat"], ["files", "get"], ["files", "ls"], ["files", "stat"], ["files", "exists"],
        ["files", "mkdir"], ["files", "mv"], ["files", "rm"], ["files", "edit"], ["files", "search"], ["files", "replace"],
        ["quota", "set"], ["quota", "show"], ["quota", "clear"], ["fsck"], ["gc"],
    ]
    static let groups: [[String]] = [["volume"], ["files"], ["quota"]]

    func testEveryCommandHasHelpWithExamples() throws {
        let cli = try CLI()
        for command in Self.leaves + Self.groups {
            for flag in ["--help", "-h"] {
                let r = try cli.run(command + [flag])
                let name = command.joined(separator: " ")
                XCTAssertEqual(r.status, 0, name)
                XCTAssertEqual(r.stderr, "", name)
                XCTAssertTrue(r.stdout.contains("USAGE: volumectl \(name)"), "\(name): \(r.stdout)")
                XCTAssertTrue(r.stdout.contains("Examples:\n  volumectl") || r.stdout.contains("Examples:\n  echo"), "\(name) has examples")
                if Self.leaves.contains(command) {
                    for option in ["--data-dir", "--owner", "--json"] {
                        XCTAssertTrue(r.stdout.contains(option), "\(name) takes \(option)")
                    }
                }
            }
        }
        let root = try cli.ok("--help")
        for group in ["volume", "files", "quota", "fsck", "gc"] { XCTAssertTrue(root.stdout.contains("  \(group) "), group) }
        XCTAssertTrue(try cli.ok("help", "files", "put").stdout.contains("USAGE: volumectl files put"))
    }

    func testUsageErrorsAreOneLineWithExit64AndPointAtHelp() throws {
        let cli = try CLI()
        _ = try cli.createVolume("data")
        try cli.fails(64, "files", "put", mentioning: ["missing expected argument '<volume>'", "see 'volumectl files put --help'"])
        try cli.fails(64, "files", "cat", "data", mentioning: ["'<path>'", "see 'volumectl files cat --help'"])
        try cli.fails(64, "files", "ls", "data", "--recurse", mentioning: ["unknown option '--recurse'"])
        try cli.fails(64, "files", "copy", "data", mentioning: ["copy", "see 'volumectl files --help'"])
        try cli.fails(64, "bogus", mentioning: ["bogus", "see 'volumectl --help'"])
        try cli.fails(64, "--data-dir", cli.local("d"), "volume", "inspect", mentioning: ["<volume>", "volumectl volume inspect --help"])
        try cli.fails(64, "volume", "list", "--json=yes", mentioning: ["--json"])
        try cli.fails(64, "files", "mv", "data", "/a", "/b", "/c", mentioning: ["unexpected argument '/c'"])
    }
}
