// `volumectl sandbox pause|hibernate|resume|destroy|fork ID`: one lifecycle call each.
import ArgumentParser
import Foundation
import VolumeAPI

/// Runs one lifecycle action and prints the sandbox (ID and state; the sandbox with --json).
func runLifecycle(_ global: GlobalOptions, _ id: String, _ action: String, printID: Bool = false) throws {
    try reporting {
        let client = try global.sandboxClient()
        let s = try blocking { try await client.sandboxes.lifecycle(id, action) }
        warnUnmounted(s)
        if global.json { try printJSON(s) } else if printID { print(s.sandboxId) } else { print("\(s.sandboxId) \(s.state)") }
    }
}

struct SandboxPauseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pause", abstract: "Stop the sandbox's processes, then release its mounts (the intents stay).")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The sandbox ID.") var id: String
    func run() throws { try runLifecycle(global, id, "pause") }
}

struct SandboxHibernateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "hibernate", abstract: "As pause, for a sandbox whose VM is stopped.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The sandbox ID.") var id: String
    func run() throws { try runLifecycle(global, id, "hibernate") }
}

struct SandboxResumeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "Mount every intent again, then let the processes run.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The sandbox ID.") var id: String
    func run() throws { try runLifecycle(global, id, "resume") }
}

struct SandboxDestroyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "destroy", abstract: "Kill the sandbox's processes and release every attachment.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The sandbox ID.") var id: String
    func run() throws { try runLifecycle(global, id, "destroy") }
}

struct SandboxForkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "fork", abstract: "A new sandbox with the same attachments (and new processes); prints its ID.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The sandbox ID.") var id: String
    func run() throws { try runLifecycle(global, id, "fork", printID: true) }
}

struct SandboxListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List the sandboxes.", aliases: ["list"])
    @OptionGroup var global: GlobalOptions
    @Flag(name: .customLong("all"), help: "Include destroyed sandboxes.") var all = false
    func run() throws {
        try reporting {
            let client = try global.sandboxClient()
            let all = self.all
            let list = try blocking { try await client.sandboxes.list(includeDestroyed: all) }
            if global.json { try printJSON(list); return }
            printTable(["SANDBOX", "STATE", "RUNTIME", "PID", "ATTACHMENTS", "CREATED"],
                       list.map { [$0.sandboxId, $0.state, $0.runtime ?? "-", $0.runtimePid.map(String.init) ?? "-",
                                   "\($0.attachments.count)", shortTime($0.createdAt)] })
        }
    }
}
