// POST /v1/sandboxes/{id}/exec: runs a command inside a running sandbox as its user and answers its exit code and output.
import Foundation
import Hummingbird
import SandboxRuntime
import VolumeCore

/// The exec request body.
struct ExecBody: Decodable, Sendable {
    var argv: [String]
    /// Standard input as text, or `stdin_base64` as bytes (not both).
    var stdin: String?
    var stdin_base64: String?
    var env: [String: String]?
    var cwd: String?
    var timeout_seconds: Int?
    static let fields: Set<String> = ["argv", "stdin", "stdin_base64", "env", "cwd", "timeout_seconds"]
}

/// The exec answer: output as base64 (exact bytes), each capped at `SandboxExecRoute.outputLimit`.
struct ExecAnswer: Encodable, Sendable {
    let exit_code: Int32
    let stdout: String
    let stderr: String
    let stdout_truncated: Bool
    let stderr_truncated: Bool
    let encoding = "base64"
}

struct SandboxExecRoute: Sendable {
    let host: VolumeHost
    let bridge: BlockingBridge
    let limits: ServerLimits
    let runner: SandboxRunner
    /// The most of each of stdout and stderr an answer carries (the rest is cut, `*_truncated` says so).
    static let outputLimit = 1 << 20
    static let maxTimeout = 3600

    func register(on router: Router<VolumeRequestContext>) {
        router.post("/v1/sandboxes/:sandbox/exec", use: exec)
    }

    @Sendable func exec(_ request: Request, context: VolumeRequestContext) async throws -> Response {
        let owner = try RequestHelpers.scope(request, context)
        let id = try context.parameters.require("sandbox")
        let body = try await RequestHelpers.json(ExecBody.self, fields: ExecBody.fields, request, limit: limits.maxJSONBytes)
        guard !body.argv.isEmpty, !body.argv[0].isEmpty else { throw APIFailure.badRequest("argv must name a command") }
        guard !body.argv.contains(where: { $0.utf8.contains(0) }) else { throw APIFailure.badRequest("argv must not contain NUL") }
        var stdin = Data((body.stdin ?? "").utf8)
        if let b = body.stdin_base64 {
            guard body.stdin == nil else { throw APIFailure.badRequest("give stdin or stdin_base64, not both") }
            guard let d = Data(base64Encoded: b) else { throw APIFailure.badRequest("stdin_base64 is not base64") }
            stdin = d
        }
        let cwd = body.cwd ?? "/"
        guard cwd.hasPrefix("/"), !cwd.utf8.contains(0) else { throw APIFailure.badRequest("cwd must be an absolute path") }
        let timeout = body.timeout_seconds ?? 300
        guard (1...Self.maxTimeout).contains(timeout) else { throw APIFailure.badRequest("timeout_seconds must be from 1 to \(Self.maxTimeout)") }
        for (k, v) in body.env ?? [:] where k.isEmpty || k.contains("=") || k.utf8.contains(0) || v.utf8.contains(0) {
            throw APIFailure.badRequest("env names must be non-empty without '=' or NUL")
        }
        let spec = ExecSpec(argv: body.argv, stdin: stdin, env: body.env ?? [:], cwd: cwd, timeoutSeconds: timeout, outputLimit: Self.outputLimit)
        let store = host.store, runner = self.runner
        let outcome = try await bridge.run { () -> ExecOutcome in
            try runner.exec(try store.sandbox(id, owner: owner), spec)
        }
        return try SandboxJSON.make(ExecAnswer(exit_code: outcome.exitCode, stdout: outcome.stdout.base64EncodedString(),
                                               stderr: outcome.stderr.base64EncodedString(), stdout_truncated: outcome.stdoutTruncated,
                                               stderr_truncated: outcome.stderrTruncated))
    }
}
