// Helpers of the archive tests: running tools (tar, python3, git, the volumectl binary), archive
// listings, and snapshots of a volume to prove a failed import changed nothing.
import Foundation
import XCTest
@testable import VolumeCore
import VolumeTestSupport

/// One member of an archive or local tree, as the Python helper lists it.
struct ListedMember: Decodable, Equatable {
    var name: String
    var type: String
    var size: Int64
    var mode: UInt32
    var mtime_ns: Int64
    var target: String
    var sha256: String?
    var nlink: Int?
    var uid: Int64?
}

/// The result of running a program.
struct RunResult {
    var status: Int32
    var stdout: Data
    var stderr: String
    var out: String { String(decoding: stdout, as: UTF8.self) }
}

enum Tools {
    /// Runs `exe` with `args`; stdout and stderr go through temp files (no pipe deadlocks).
    @discardableResult
    static func run(_ exe: String, _ args: [String], cwd: String? = nil, stdin: String? = nil,
                    check: Bool = true, file: StaticString = #filePath, line: UInt = #line) throws -> RunResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe.hasPrefix("/") ? exe : "/usr/bin/env")
        p.arguments = exe.hasPrefix("/") ? args : [exe] + args
        if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        let tmp = try TemporaryDirectory("run")
        defer { tmp.remove() }
        let outURL = tmp.url.appendingPathComponent("out"), errURL = tmp.url.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        p.standardOutput = try FileHandle(forWritingTo: outURL)
        p.standardError = try FileHandle(forWritingTo: errURL)
        if let stdin { p.standardInput = FileHandle(forReadingAtPath: stdin) } else { p.standardInput = FileHandle.nullDevice }
        try p.run()
        p.waitUntilExit()
        let r = RunResult(status: p.terminationStatus, stdout: try Data(contentsOf: outURL),
                          stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
        if check && r.status != 0 {
            XCTFail("\(exe) \(args.joined(separator: " ")) exited \(r.status): \(r.stderr)", file: file, line: line)
        }
        return r
    }

    /// The Python helper, written once per process.
    static let script: String = {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("archive_tool-\(getpid()).py").path
        _ = FileManager.default.createFile(atPath: path, contents: Data(archiveToolScript.utf8))
        return path
    }()

    @discardableResult
    static func python(_ args: [String], check: Bool = true) throws -> RunResult {
        try run("python3", [script] + args, check: check)
    }

    static func list(_ archive: String) throws -> [ListedMember] {
        try JSONDecoder().decode([ListedMember].self, from: python(["list", archive]).stdout)
    }

    static func walk(_ dir: String) throws -> [ListedMember] {
        try JSONDecoder().decode([ListedMember].self, from: python(["walk", dir]).stdout)
    }

    /// The built volumectl: next to the test bundle in the build products directory.
    static func volumectl() throws -> String {
        var candidates: [URL] = []
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var dir = exe.deletingLastPathComponent()
        for _ in 0..<4 {
            candidates.append(dir.appendingPathComponent("volumectl"))
            dir = dir.deletingLastPathComponent()
        }
        for b in Bundle.allBundles { candidates.append(b.bundleURL.deletingLastPathComponent().appendingPathComponent("volumectl")) }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(root.appendingPathComponent(".build/debug/volumectl"))
        for c in candidates where FileManager.default.isExecutableFile(atPath: c.path) { return c.path }
        throw XCTSkip("volumectl is not built next to the tests (looked in \(candidates.map(\.path)))")
    }
}

extension Volume {
    /// Every entry with kind, mode, size, mtime and content hash, plus usage, file count and the
    /// change sequence: equal snapshots mean nothing was committed in between.
    func snapshot() throws -> String {
        var lines: [String] = []
        func walk(_ ino: UInt64, _ path: String) throws {
            for e in try readdir(ino) {
                let a = e.attributes
                let p = path + "/" + e.nameString
                var line = "\(p) \(a.kind.apiName) \(String(a.mode, radix: 8)) \(a.size) \(a.mtime) \(a.nlink)"
                if a.kind == .file { line += " " + ChunkID.of(try read(a.ino, offset: 0, count: Int(a.size))).hex }
                lines.append(line)
                if a.kind == .directory { try walk(a.ino, p) }
            }
        }
        try walk(1, "")
        let s = try statfs()
        lines.append("usage \(s.usedBytes) files \(s.files) seq \(try changeSequence())")
        return lines.joined(separator: "\n")
    }
}

/// Asserts that a volume directory holds exactly what an archive listing says (links and other
/// dropped kinds absent), byte for byte, with modes and mtimes.
func assertVolume(_ v: Volume, under dir: String, matches expected: [ListedMember], label: String,
                  file: StaticString = #filePath, line: UInt = #line) throws {
    let base = dir == "/" ? "" : dir
    var expectedNames: Set<String> = []
    for m in expected {
        let path = base + "/" + m.name
        switch m.type {
        case "file":
            expectedNames.insert(m.name)
            guard let a = try? v.attributes(at: path) else { XCTFail("\(label): \(path) is missing", file: file, line: line); continue }
            XCTAssertEqual(a.kind, .file, "\(label): \(path)", file: file, line: line)
            XCTAssertEqual(a.size, m.size, "\(label): size of \(path)", file: file, line: line)
            XCTAssertEqual(a.mode, m.mode, "\(label): mode of \(path)", file: file, line: line)
            XCTAssertEqual(a.mtime, m.mtime_ns, "\(label): mtime of \(path)", file: file, line: line)
            XCTAssertEqual(ChunkID.of(try v.readFile(path)).hex, m.sha256, "\(label): bytes of \(path)", file: file, line: line)
        case "dir":
            expectedNames.insert(m.name)
            guard let a = try? v.attributes(at: path) else { XCTFail("\(label): \(path) is missing", file: file, line: line); continue }
            XCTAssertEqual(a.kind, .directory, "\(label): \(path)", file: file, line: line)
            XCTAssertEqual(a.mode, m.mode, "\(label): mode of \(path)", file: file, line: line)
            XCTAssertEqual(a.mtime, m.mtime_ns, "\(label): mtime of \(path)", file: file, line: line)
        default:
            XCTAssertFalse(try v.exists(path), "\(label): \(m.type) \(path) should have been dropped", file: file, line: line)
        }
    }
    // Nothing else: every entry in the volume is in the listing (or a parent the import had to create).
    let all = try v.list(dir, depth: 1000).map { String($0.path.dropFirst(base.count + 1)) }
    for name in all where !expectedNames.contains(name) {
        let isParent = expectedNames.contains { $0.hasPrefix(name + "/") }
        XCTAssertTrue(isParent, "\(label): unexpected \(name) in the volume", file: file, line: line)
    }
}
