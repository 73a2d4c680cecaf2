// Runs the built volumectl binary as a subprocess against a private data directory, and checks what a user sees.
import Foundation
import XCTest
import VolumeTestSupport

/// What one volumectl run printed and how it exited.
struct Run {
    let arguments: [String]
    let status: Int32
    let stdoutData: Data
    let stderr: String
    var stdout: String { String(decoding: stdoutData, as: UTF8.self) }
    var lines: [String] { stdout.split(separator: "\n", omittingEmptySubsequences: true).map(String.init) }
    /// Line `i` of stdout, or "" when there are fewer lines (so a failed check does not crash the run).
    func line(_ i: Int) -> String { lines.indices.contains(i) ? lines[i] : "" }

    /// The stdout parsed as JSON.
    func json(file: StaticString = #filePath, line: UInt = #line) throws -> Any {
        do { return try JSONSerialization.jsonObject(with: stdoutData, options: [.fragmentsAllowed]) } catch {
            XCTFail("volumectl \(arguments.joined(separator: " ")) did not print JSON: \(stdout)", file: file, line: line)
            throw error
        }
    }

    func jsonObject(file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        try XCTUnwrap(try json(file: file, line: line) as? [String: Any], "not a JSON object: \(stdout)", file: file, line: line)
    }

    func jsonArray(file: StaticString = #filePath, line: UInt = #line) throws -> [[String: Any]] {
        try XCTUnwrap(try json(file: file, line: line) as? [[String: Any]], "not a JSON array of objects: \(stdout)", file: file, line: line)
    }
}

extension Array where Element == [String: Any] {
    /// Element `i`, or an empty object when there are fewer (so a failed check does not crash the run).
    func at(_ i: Int) -> [String: Any] { indices.contains(i) ? self[i] : [:] }
}

enum HarnessError: Error, CustomStringConvertible {
    case binaryNotFound([String])
    var description: String {
        switch self {
        case .binaryNotFound(let tried):
            return "cannot find the volumectl binary (run 'swift build' first, or set VOLUMECTL); tried: \(tried.joined(separator: ", "))"
        }
    }
}

/// A private data directory and a way to run volumectl on it.
final class CLI {
    /// The built binary: $VOLUMECTL, else next to the test bundle in the products directory, else .build/debug.
    static let binary: Result<URL, HarnessError> = {
        var candidates: [URL] = []
        if let env = ProcessInfo.processInfo.environment["VOLUMECTL"], !env.isEmpty { candidates.append(URL(fileURLWithPath: env)) }
        for bundle in [Bundle.main.bundleURL, Bundle(for: CLI.self).bundleURL] {
            candidates.append(bundle.appendingPathComponent("volumectl"))
            candidates.append(bundle.deletingLastPathComponent().appendingPathComponent("volumectl"))
        }
        if let argv0 = CommandLine.arguments.first {
            candidates.append(URL(fileURLWithPath: argv0).deletingLastPathComponent().appendingPathComponent("volumectl"))
        }
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(packageRoot.appendingPathComponent(".build/debug/volumectl"))
        for c in candidates where FileManager.default.isExecutableFile(atPath: c.path) {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: c.path, isDirectory: &isDir), !isDir.boolValue { return .success(c.standardizedFileURL) }
        }
        return .failure(.binaryNotFound(candidates.map(\.path)))
    }()

    let dir: TemporaryDirectory
    /// The data directory every run uses (through VOLUMES_DATA_DIR) unless a test passes --data-dir.
    var dataDir: String { dir.path + "/data" }
    /// Extra environment for every run.
    var environment: [String: String] = [:]

    init() throws {
        _ = try Self.binary.get()
        dir = try TemporaryDirectory("volumectl-test")
    }

    deinit { dir.remove() }

    /// A path for a local scratch file.
    func local(_ name: String) -> String { dir.path + "/" + name }

    @discardableResult
    func run(_ args: String..., stdin: Data? = nil, env: [String: String] = [:]) throws -> Run {
        try run(args, stdin: stdin, env: env)
    }

    /// Starts volumectl with a pipe as its standard input (output discarded), for a test that feeds it while
    /// other commands run; the caller writes, closes the pipe and waits.
    func startReadingStdin(_ args: [String]) throws -> (Process, Pipe) {
        let input = Pipe()
        let p = Process()
        p.executableURL = try Self.binary.get()
        p.arguments = args
        p.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("VOLUMES_") }
            .merging(["VOLUMES_DATA_DIR": dataDir]) { $1 }
        p.standardInput = input
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return (p, input)
    }

    @discardableResult
    func run(_ args: [String], stdin: Data? = nil, env: [String: String] = [:]) throws -> Run {
        let p = Process()
        p.executableURL = try Self.binary.get()
        p.arguments = args
        var e = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("VOLUMES_") }
        e["VOLUMES_DATA_DIR"] = dataDir
        e.merge(environment) { $1 }
        e.merge(env) { $1 }
        p.environment = e
        // Files, not pipes: no deadlock however much a command prints.
        let id = UUID().uuidString.prefix(8)
        let outPath = dir.path + "/.stdout-\(id)", errPath = dir.path + "/.stderr-\(id)", inPath = dir.path + "/.stdin-\(id)"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        defer { for f in [outPath, errPath, inPath] { try? FileManager.default.removeItem(atPath: f) } }
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        p.standardOutput = out
        p.standardError = err
        if let stdin {
            _ = FileManager.default.createFile(atPath: inPath, contents: stdin)
            p.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: inPath))
        } else {
            p.standardInput = FileHandle.nullDevice
        }
        try p.run()
        p.waitUntilExit()
        try out.close()
        try err.close()
        return Run(arguments: args, status: p.terminationStatus,
                   stdoutData: try Data(contentsOf: URL(fileURLWithPath: outPath)),
                   stderr: String(decoding: try Data(contentsOf: URL(fileURLWithPath: errPath)), as: UTF8.self))
    }

    /// Runs and asserts success (exit 0, nothing on stderr).
    @discardableResult
    func ok(_ args: String..., stdin: Data? = nil, env: [String: String] = [:],
            file: StaticString = #filePath, line: UInt = #line) throws -> Run {
        let r = try run(args, stdin: stdin, env: env)
        XCTAssertEqual(r.status, 0, "volumectl \(args.joined(separator: " ")) failed: \(r.stderr)", file: file, line: line)
        XCTAssertEqual(r.stderr, "", "volumectl \(args.joined(separator: " ")) wrote to stderr", file: file, line: line)
        return r
    }

    /// Runs and asserts a failure with `code`, one line on stderr starting "volumectl: " and containing each of `mentions`,
    /// and nothing on stdout.
    @discardableResult
    func fails(_ code: Int32, _ args: String..., stdin: Data? = nil, mentioning mentions: [String] = [], env: [String: String] = [:],
               file: StaticString = #filePath, line: UInt = #line) throws -> Run {
        let r = try run(args, stdin: stdin, env: env)
        let cmd = "volumectl \(args.joined(separator: " "))"
        XCTAssertEqual(r.status, code, "\(cmd): expected exit \(code), got \(r.status); stderr: \(r.stderr)", file: file, line: line)
        XCTAssertTrue(r.stderr.hasPrefix("volumectl: "), "\(cmd): stderr should start 'volumectl: ': \(r.stderr)", file: file, line: line)
        XCTAssertEqual(r.stderr.filter { $0 == "\n" }.count, 1, "\(cmd): the error should be exactly one line: \(r.stderr)", file: file, line: line)
        XCTAssertEqual(r.stdout, "", "\(cmd): a failure should print nothing on stdout", file: file, line: line)
        for m in mentions {
            XCTAssertTrue(r.stderr.localizedCaseInsensitiveContains(m), "\(cmd): stderr should mention '\(m)': \(r.stderr)", file: file, line: line)
        }
        return r
    }

    /// Creates a volume and returns its ID.
    func createVolume(_ name: String, _ extra: String..., file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let r = try run(["volume", "create", name, "--quiet"] + extra)
        XCTAssertEqual(r.status, 0, r.stderr, file: file, line: line)
        let id = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertTrue(id.hasPrefix("vol-"), "not a volume ID: \(id)", file: file, line: line)
        return id
    }

    /// Writes `text` to a volume path through stdin.
    func put(_ volume: String, _ path: String, _ text: String, file: StaticString = #filePath, line: UInt = #line) throws {
        try ok("files", "put", volume, path, "-", stdin: Data(text.utf8), file: file, line: line)
    }

    /// A volume file's bytes, through `files cat`.
    func cat(_ volume: String, _ path: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        try ok("files", "cat", volume, path, file: file, line: line).stdout
    }
}
