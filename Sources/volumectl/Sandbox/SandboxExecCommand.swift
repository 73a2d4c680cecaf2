// `volumectl sandbox exec ID -- CMD ...`: runs a command in a sandbox; its output is ours and so is its exit code.
import ArgumentParser
import Foundation
import VolumeAPI

#if canImport(Glibc)
import Glibc
#endif

struct SandboxExecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec",
        abstract: "Run a command inside a running sandbox as its user; exit with its exit code.",
        discussion: """
            Its stdout and stderr are written to ours once it ends (at most 1 MiB each; a cut output is said \
            on stderr). With --stdin, our standard input is read to its end and given to it.
            Exit codes: the command's; 124 when --timeout ended it; volumectl's own (4: the sandbox is not \
            running, 3: no such sandbox) when it did not run.
            Example: volumectl sandbox exec sbx-... -- wc -l /data/rows.csv
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The sandbox ID.")
    var id: String
    @Flag(name: .customLong("stdin"), help: "Send our standard input to the command.")
    var sendStdin = false
    @Option(name: .customLong("env"), help: ArgumentHelp("Set a variable: NAME=VALUE (repeatable).", valueName: "name=value"))
    var env: [String] = []
    @Option(help: "The working directory inside the sandbox (default /).")
    var cwd: String?
    @Option(help: "Seconds before the command is killed (default 300, at most 3600).")
    var timeout: Int?
    @Argument(parsing: .postTerminator, help: "The command and its arguments, after '--'.")
    var command: [String] = []

    func validate() throws {
        if command.isEmpty { throw ValidationError("give the command after '--': volumectl sandbox exec ID -- CMD ...") }
        for e in env where !e.contains("=") { throw ValidationError("--env takes NAME=VALUE, not '\(e)'") }
    }

    func run() throws {
        var code: Int32 = 0
        try reporting {
            let client = try global.sandboxClient()
            var vars: [String: String] = [:]
            for e in env {
                let i = e.firstIndex(of: "=")!
                vars[String(e[..<i])] = String(e[e.index(after: i)...])
            }
            let input = sendStdin ? FileHandle.standardInput.readDataToEndOfFile() : nil
            let request = ExecRequest(argv: command, stdin: input, env: vars.isEmpty ? nil : vars, cwd: cwd, timeoutSeconds: timeout)
            let sandbox = id
            let r = try blocking { try await client.sandboxes.exec(sandbox, request) }
            if global.json {
                try printJSON(r)
            } else {
                _ = writeAll(STDOUT_FILENO, r.stdoutData)
                _ = writeAll(STDERR_FILENO, r.stderrData)
                if r.stdoutTruncated { writeStderr("volumectl: the command's stdout was cut at 1 MiB\n") }
                if r.stderrTruncated { writeStderr("volumectl: the command's stderr was cut at 1 MiB\n") }
            }
            code = r.exitCode
        }
        if code != 0 { throw ExitCode(code) }
    }
}
