// `volumectl sandbox attach|detach|attachments`: runtime attachments of a sandbox and their records.
import ArgumentParser
import Foundation
import VolumeAPI

struct SandboxAttachCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "attach", abstract: "Attach a volume to a sandbox: VOL:/MOUNT_PATH[:ro][:subpath=/DIR].")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The sandbox ID.") var id: String
    @Argument(help: "VOL:/MOUNT_PATH[:ro][:subpath=/DIR]") var spec: String
    func run() throws {
        try reporting {
            let client = try global.sandboxClient()
            let request = try VolumeSpec(spec).resolved(client)
            let sandbox = id
            let a = try blocking { try await client.sandboxes.attach(sandbox, request) }
            if global.json { try printJSON(a) } else { printAttachments([a]) }
        }
    }
}

struct SandboxDetachCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "detach", abstract: "Detach an attachment (unmounted; its record stays, released).")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The sandbox ID.") var id: String
    @Argument(help: "The attachment ID (att-...).") var attachment: String
    func run() throws {
        try reporting {
            let client = try global.sandboxClient()
            let sandbox = id, att = attachment
            let a = try blocking { try await client.sandboxes.detach(sandbox, attachment: att) }
            if global.json { try printJSON(a) } else { printAttachments([a]) }
        }
    }
}

struct SandboxAttachmentsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "attachments", abstract: "List a sandbox's attachments with their state and reason.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The sandbox ID.") var id: String
    @Flag(name: .customLong("all"), help: "Include detached ones.") var all = false
    func run() throws {
        try reporting {
            let client = try global.sandboxClient()
            let sandbox = id, all = self.all
            let list = try blocking { try await client.sandboxes.attachments(sandbox, includeDetached: all) }
            if global.json { try printJSON(list) } else { printAttachments(list) }
        }
    }
}
