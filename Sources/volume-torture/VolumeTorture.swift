// volume-torture: runs a deterministic script of writes on a volume and acknowledges each one on stdout (for crash testing a host).
import ArgumentParser
import Foundation
import VolumeCore
import VolumeTestSupport

@main
struct VolumeTorture: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "volume-torture",
        abstract: "Write to a volume by a seeded script, printing 'ack N' after each acknowledged operation.",
        discussion: """
            Kill it with SIGKILL at any moment, then check the volume: fsck must be clean and the volume
            must hold exactly the state after operation N or N+1 (the one in flight), where N is the last
            ack printed. The crash test in Tests/VolumeCoreTests does exactly this.

            Example: volume-torture --data-dir /tmp/d --volume vol-abc --seed 42 --durability full
            """
    )

    @Option(help: "The data directory.") var dataDir: String
    @Option(help: "The volume ID.") var volume: String
    @Option(help: "The script's seed.") var seed: UInt64
    @Option(help: "full or relaxed.") var durability: String = "full"
    @Option(help: "Stop after this many operations (default: run until killed).") var count: Int = .max

    func run() throws {
        guard let d = Durability(rawValue: durability) else { throw ValidationError("durability must be full or relaxed") }
        let store = try VolumeStore(dataDir: URL(fileURLWithPath: dataDir), options: StoreOptions(durability: d))
        let v = try store.volume(volume, owner: nil)
        var script = TortureScript(seed: seed)
        var n = 0
        while n < count {
            let op = script.next()
            try TortureScript.perform(op, on: v)
            n += 1
            FileHandle.standardOutput.write(Data("ack \(n)\n".utf8)) // unbuffered: an ack printed is an ack given
        }
    }
}
