// Runs a helper program to completion with its output in temporary files (a detached grandchild never holds a pipe of ours).
import Foundation

enum Tool {
    /// A bash prelude that closes every descriptor above 2 this process inherited (Foundation's
    /// `Process` leaves one of its own open in the child): nothing of the daemon's may reach a
    /// sandbox, and a process left running inside must not hold the descriptor `waitUntilExit`
    /// waits on. Then `"$@"` runs (after `shift N` of the script's own arguments).
    static func closingDescriptors(_ then: String) -> String {
        "for f in /proc/$$/fd/*; do n=${f##*/}; if [ \"$n\" -gt 2 ] 2>/dev/null; then eval \"exec $n>&-\" 2>/dev/null; fi; done; " + then
    }

    struct Result { let status: Int32; let stdout: String; let stderr: String }

    static func run(_ path: String, _ args: [String]) throws -> Result {
        let o = try capture(path, args, env: nil, stdin: Data(), limit: 1 << 20)
        return Result(status: o.exitCode, stdout: String(decoding: o.stdout, as: UTF8.self), stderr: String(decoding: o.stderr, as: UTF8.self))
    }

    /// Runs `path` and returns its exit code (128 + N for a signal N) and at most `limit` bytes of each output.
    static func capture(_ path: String, _ args: [String], env: [String: String]?, stdin: Data, limit: Int) throws -> ExecOutcome {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sandbox-tool-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("i"), out = dir.appendingPathComponent("o"), err = dir.appendingPathComponent("e")
        _ = FileManager.default.createFile(atPath: input.path, contents: stdin)
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        if let env { p.environment = env }
        p.standardInput = try FileHandle(forReadingFrom: input)
        p.standardOutput = try FileHandle(forWritingTo: out)
        p.standardError = try FileHandle(forWritingTo: err)
        try p.run()
        p.waitUntilExit()
        let code = p.terminationReason == .uncaughtSignal ? 128 + p.terminationStatus : p.terminationStatus
        func head(_ url: URL) -> (Data, Bool) {
            guard let h = try? FileHandle(forReadingFrom: url) else { return (Data(), false) }
            defer { try? h.close() }
            let d = (try? h.read(upToCount: limit + 1)) ?? Data()
            return d.count > limit ? (d.prefix(limit), true) : (d, false)
        }
        let (o, ot) = head(out), (e, et) = head(err)
        return ExecOutcome(exitCode: code, stdout: o, stderr: e, stdoutTruncated: ot, stderrTruncated: et)
    }
}
