// Starts the real volumed binary on 127.0.0.1 with an ephemeral port and a temporary data directory, and talks HTTP to it with curl.
import Foundation
import XCTest
import VolumeTestSupport

/// One HTTP exchange as curl saw it.
struct HTTPResult {
    let status: Int
    /// Lower-cased header names.
    let headers: [String: String]
    let body: Data
    var text: String { String(decoding: body, as: UTF8.self) }

    func json(file: StaticString = #filePath, line: UInt = #line) throws -> Any {
        do { return try JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed]) } catch {
            XCTFail("not JSON (status \(status)): \(text)", file: file, line: line)
            throw error
        }
    }

    func object(file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        try XCTUnwrap(try json(file: file, line: line) as? [String: Any], "not a JSON object: \(text)", file: file, line: line)
    }

    func array(file: StaticString = #filePath, line: UInt = #line) throws -> [[String: Any]] {
        try XCTUnwrap(try json(file: file, line: line) as? [[String: Any]], "not a JSON array: \(text)", file: file, line: line)
    }

    /// The error body's code, or "" when the body is not `{"error": {"code", "message"}}`.
    var errorCode: String { ((try? JSONSerialization.jsonObject(with: body)) as? [String: Any]).flatMap { $0["error"] as? [String: Any] }?["code"] as? String ?? "" }
    var errorMessage: String { ((try? JSONSerialization.jsonObject(with: body)) as? [String: Any]).flatMap { $0["error"] as? [String: Any] }?["message"] as? String ?? "" }
}

enum HarnessError: Error, CustomStringConvertible {
    case binaryNotFound(String, [String])
    case didNotStart(String)
    var description: String {
        switch self {
        case let .binaryNotFound(name, tried): return "cannot find the \(name) binary (run 'swift build' first); tried: \(tried.joined(separator: ", "))"
        case .didNotStart(let s): return "volumed did not start: \(s)"
        }
    }
}

/// Finds a built product next to the test bundle, or in .build/debug.
func builtBinary(_ name: String, env: String) -> Result<URL, HarnessError> {
    var candidates: [URL] = []
    if let e = ProcessInfo.processInfo.environment[env], !e.isEmpty { candidates.append(URL(fileURLWithPath: e)) }
    for bundle in [Bundle.main.bundleURL, Bundle(for: Daemon.self).bundleURL] {
        candidates.append(bundle.appendingPathComponent(name))
        candidates.append(bundle.deletingLastPathComponent().appendingPathComponent(name))
    }
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    candidates.append(root.appendingPathComponent(".build/debug/\(name)"))
    for c in candidates where FileManager.default.isExecutableFile(atPath: c.path) {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: c.path, isDirectory: &isDir), !isDir.boolValue { return .success(c.standardizedFileURL) }
    }
    return .failure(.binaryNotFound(name, candidates.map(\.path)))
}

/// A test case on one daemon `d`, stopped by `tearDown`; `startDaemon` starts it with a key of the tenant
/// "acme" and one volume of that tenant. The route tests share this set-up instead of each copying it.
class DaemonTestCase: XCTestCase {
    var d: Daemon!
    var key = ""
    var vol = ""

    /// Starts volumed with `arguments`, creates a key of the tenant "acme" and that tenant's volume `volume`.
    func startDaemon(_ arguments: [String] = [], volume: String, file: StaticString = #filePath, line: UInt = #line) throws {
        d = try Daemon(arguments: arguments)
        key = try d.tenantKey("acme", file: file, line: line)
        vol = try d.createVolume(volume, key: key, file: file, line: line)
    }

    override func tearDown() {
        d?.stop()
        d = nil
        super.tearDown()
    }
}

/// A running volumed on its own data directory. `stop()` sends SIGTERM and waits; deinit kills it if a test forgot.
final class Daemon {
    static let binary = builtBinary("volumed", env: "VOLUMED")
    static let volumectl = builtBinary("volumectl", env: "VOLUMECTL")

    let dir: TemporaryDirectory
    let ownsDir: Bool
    var dataDir: String { dir.path + "/data" }
    private(set) var process: Process?
    private(set) var url = ""
    private(set) var operatorKey = ""
    let extraArguments: [String]
    var logPath: String { dir.path + "/volumed.log" }

    /// Starts volumed with `--listen 127.0.0.1:0`; `dir` reuses a data directory (a restart).
    init(arguments: [String] = [], reuse dir: TemporaryDirectory? = nil) throws {
        _ = try Self.binary.get()
        self.dir = try dir ?? TemporaryDirectory("volumed-test")
        ownsDir = dir == nil
        extraArguments = arguments
        try start()
    }

    func start() throws {
        let addressFile = dir.path + "/address"
        try? FileManager.default.removeItem(atPath: addressFile)
        let p = Process()
        p.executableURL = try Self.binary.get()
        p.arguments = ["--data-dir", dataDir, "--listen", "127.0.0.1:0", "--address-file", addressFile] + extraArguments
        p.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("VOLUMED_") && !$0.key.hasPrefix("VOLUMES_") }
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let logHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        logHandle.seekToEndOfFile()
        p.standardOutput = logHandle
        p.standardError = logHandle
        p.standardInput = FileHandle.nullDevice
        try p.run()
        process = p
        // Wait for the address file (the daemon writes it once bound); a generous bound for a loaded machine.
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if let s = try? String(contentsOfFile: addressFile, encoding: .utf8), s.hasSuffix("\n") {
                url = s.trimmingCharacters(in: .whitespacesAndNewlines)
                operatorKey = try String(contentsOfFile: dataDir + "/operator.key", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
                return
            }
            if !p.isRunning { throw HarnessError.didNotStart("exited \(p.terminationStatus): \(log())") }
            usleep(20_000)
        }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        throw HarnessError.didNotStart("no address after 60 s: \(log())")
    }

    func log() -> String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Sends SIGTERM to the daemon this test started and waits for it; returns its exit status.
    @discardableResult
    func stop(signal: Int32 = SIGTERM) -> Int32 {
        guard let p = process else { return 0 }
        if p.isRunning { kill(p.processIdentifier, signal) }
        p.waitUntilExit()
        process = nil
        return p.terminationStatus
    }

    /// Waits for the daemon to exit by itself (after a signal some other party sent); nil when it is
    /// still running after `seconds` (then it is killed).
    func waitForExit(seconds: Double) -> Int32? {
        guard let p = process else { return nil }
        let deadline = Date().addingTimeInterval(seconds)
        while p.isRunning, Date() < deadline { usleep(20_000) }
        if p.isRunning {
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            process = nil
            return nil
        }
        process = nil
        return p.terminationStatus
    }

    var pid: Int32 { process?.processIdentifier ?? 0 }

    deinit {
        if let p = process, p.isRunning {
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
        }
        if ownsDir { dir.remove() }
    }

    // MARK: HTTP through curl

    /// One request. `key` nil sends no key; `body` is sent as is (`bodyFile` streams a file instead).
    func request(_ method: String, _ path: String, key: String?, headers: [String: String] = [:], body: Data? = nil,
                 bodyFile: String? = nil, bearer: Bool = false) throws -> HTTPResult {
        let id = UUID().uuidString.prefix(8)
        let out = dir.path + "/.body-\(id)", head = dir.path + "/.head-\(id)", input = dir.path + "/.in-\(id)"
        defer { for f in [out, head, input] { try? FileManager.default.removeItem(atPath: f) } }
        var args = ["-sS", "-g", "-o", out, "-D", head, "-w", "%{http_code}", "-X", method, "--max-time", "300"]
        if let key { args += ["-H", bearer ? "Authorization: Bearer \(key)" : "X-API-Key: \(key)"] }
        for (k, v) in headers { args += ["-H", "\(k): \(v)"] }
        if let body {
            _ = FileManager.default.createFile(atPath: input, contents: body)
            args += ["--data-binary", "@" + input]
        } else if let bodyFile {
            args += ["-T", bodyFile]
        }
        args.append(url + path)
        let r = try Self.runTool("/usr/bin/curl", args)
        guard r.status == 0, let status = Int(r.stdout) else {
            throw HarnessError.didNotStart("curl \(method) \(path) failed (\(r.status)): \(r.stderr)")
        }
        var hs: [String: String] = [:]
        for line in ((try? String(contentsOfFile: head, encoding: .utf8)) ?? "").split(separator: "\r\n") {
            guard let c = line.firstIndex(of: ":") else { continue }
            hs[line[..<c].lowercased()] = line[line.index(after: c)...].trimmingCharacters(in: .whitespaces)
        }
        return HTTPResult(status: status, headers: hs, body: (try? Data(contentsOf: URL(fileURLWithPath: out))) ?? Data())
    }

    func get(_ path: String, key: String?, headers: [String: String] = [:]) throws -> HTTPResult {
        try request("GET", path, key: key, headers: headers)
    }

    /// A JSON request.
    func send(_ method: String, _ path: String, key: String?, json: Any, headers: [String: String] = [:]) throws -> HTTPResult {
        var h = headers
        h["Content-Type"] = "application/json"
        return try request(method, path, key: key, headers: h, body: try JSONSerialization.data(withJSONObject: json))
    }

    /// Creates a tenant key through the operator API.
    func tenantKey(_ tenant: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let r = try send("POST", "/v1/admin/keys", key: operatorKey, json: ["tenant": tenant])
        XCTAssertEqual(r.status, 201, r.text, file: file, line: line)
        return try XCTUnwrap(try r.object()["key"] as? String, file: file, line: line)
    }

    /// Creates a volume with a JSON body and returns its ID.
    func createVolume(_ name: String, key: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let r = try send("POST", "/v1/volumes", key: key, json: ["name": name])
        XCTAssertEqual(r.status, 201, r.text, file: file, line: line)
        return try XCTUnwrap(try r.object()["volume_id"] as? String, file: file, line: line)
    }

    /// Writes a file with PUT.
    @discardableResult
    func put(_ volume: String, _ path: String, _ data: Data, key: String, query: String = "",
             file: StaticString = #filePath, line: UInt = #line) throws -> HTTPResult {
        let r = try request("PUT", "/v1/volumes/\(volume)/files/content?path=\(Self.escape(path))\(query)", key: key,
                            headers: ["Content-Type": "application/octet-stream"], body: data)
        XCTAssertTrue([200, 201].contains(r.status), "PUT \(path): \(r.status) \(r.text)", file: file, line: line)
        return r
    }

    /// A file's content through GET.
    func read(_ volume: String, _ path: String, key: String) throws -> HTTPResult {
        try get("/v1/volumes/\(volume)/files/content?path=\(Self.escape(path))", key: key)
    }

    static func escape(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "/-._~"))) ?? s
    }

    // MARK: Other tools

    struct ToolRun { let status: Int32; let stdout: String; let stderr: String }

    /// Runs a tool to completion, output through files (no pipe deadlock).
    static func runTool(_ path: String, _ args: [String], env: [String: String]? = nil, stdin: Data? = nil) throws -> ToolRun {
        let tmp = try TemporaryDirectory("tool")
        defer { tmp.remove() }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        if let env { p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 } }
        _ = FileManager.default.createFile(atPath: tmp.path + "/o", contents: nil)
        _ = FileManager.default.createFile(atPath: tmp.path + "/e", contents: nil)
        _ = FileManager.default.createFile(atPath: tmp.path + "/i", contents: stdin ?? Data())
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: tmp.path + "/o"))
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: tmp.path + "/e"))
        p.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: tmp.path + "/i"))
        try p.run()
        p.waitUntilExit()
        return ToolRun(status: p.terminationStatus,
                       stdout: (try? String(contentsOfFile: tmp.path + "/o", encoding: .utf8)) ?? "",
                       stderr: (try? String(contentsOfFile: tmp.path + "/e", encoding: .utf8)) ?? "")
    }

    /// Runs volumectl on this daemon's data directory.
    func volumectl(_ args: String...) throws -> ToolRun {
        try Self.runTool(try Self.volumectl.get().path, args, env: ["VOLUMES_DATA_DIR": dataDir])
    }

    /// Runs a Python snippet (raw sockets for what curl will not send) with the daemon's host and port as argv[1], argv[2].
    func python(_ script: String, _ extra: [String] = []) throws -> ToolRun {
        let hostPort = url.replacingOccurrences(of: "http://", with: "").split(separator: ":")
        return try Self.runTool("/usr/bin/env", ["python3", "-c", script, String(hostPort[0]), String(hostPort[1])] + extra)
    }
}
