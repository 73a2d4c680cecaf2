// volumectl's main(): global options may come before the subcommand, and usage errors are one line, exit 64.
import ArgumentParser
import Foundation

extension Volumectl {
    /// Parses and runs the command. Help and version go to stdout as usual; every error is one line on
    /// stderr. Errors from a command body already printed their line (see `reporting`) and carry their code.
    static func main() {
        run(Array(CommandLine.arguments.dropFirst()))
    }

    /// `main()` for `arguments` (without the program name): also how a forked mount server runs its
    /// command (`mount-launcher`). Returns when the command succeeded; exits otherwise.
    static func run(_ commandLine: [String]) {
        let arguments = hoistingGlobalOptions(commandLine)
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
        } catch let code as ExitCode {
            exit(withError: code)
        } catch {
            let code = exitCode(for: error)
            let message = self.message(for: error).trimmingCharacters(in: .whitespacesAndNewlines)
            guard code != .success, !message.isEmpty else { exit(withError: error) }
            let help = (["volumectl"] + commandPath(arguments) + ["--help"]).joined(separator: " ")
            let line = message.replacingOccurrences(of: "\n", with: " ")
            writeStderr("volumectl: \(line); see '\(help)'\n")
            Foundation.exit(code.rawValue)
        }
    }

    /// The options of `GlobalOptions`, which every leaf command declares.
    static let globalOptionsWithValue = ["--data-dir", "--owner", "--endpoint"]
    static let globalFlags = ["--json"]

    /// Moves global options written before the subcommand names (`volumectl --data-dir D volume list`)
    /// to just after them (`volumectl volume list --data-dir D`), where the leaf command parses them.
    static func hoistingGlobalOptions(_ args: [String]) -> [String] {
        var hoisted: [String] = []
        var path: [String] = []
        var rest = args[...]
        var current: ParsableCommand.Type = Volumectl.self
        while let a = rest.first {
            if globalOptionsWithValue.contains(a), rest.count >= 2 {
                hoisted += rest.prefix(2)
                rest = rest.dropFirst(2)
            } else if globalFlags.contains(a) || globalOptionsWithValue.contains(where: { a.hasPrefix($0 + "=") }) {
                hoisted.append(a)
                rest = rest.dropFirst()
            } else if let next = subcommand(of: current, named: a) {
                path.append(a)
                current = next
                rest = rest.dropFirst()
            } else {
                break
            }
        }
        return hoisted.isEmpty ? args : path + hoisted + rest
    }

    /// The subcommand names at the start of `args` (skipping options), e.g. ["files", "put"].
    static func commandPath(_ args: [String]) -> [String] {
        var path: [String] = []
        var current: ParsableCommand.Type = Volumectl.self
        for arg in args where !arg.hasPrefix("-") {
            guard let next = subcommand(of: current, named: arg) else { continue }
            path.append(arg)
            current = next
        }
        return path
    }

    static func subcommand(of command: ParsableCommand.Type, named name: String) -> ParsableCommand.Type? {
        command.configuration.subcommands.first { $0._commandName == name || $0.configuration.aliases.contains(name) }
    }
}
