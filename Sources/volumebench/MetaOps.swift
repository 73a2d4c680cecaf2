// volumebench metaops: what each core call behind a FUSE request costs (no kernel in the way), to
// tell the core's share of a metadata workload from the FUSE round trips.
import ArgumentParser
import Foundation
import VolumeCore

struct MetaOps: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time the core calls a mount makes for create+write+close, stat and unlink of N small files (microseconds per call).")
    @OptionGroup var opts: BenchOptions
    @Option(help: "Files.") var files = 10_000
    @Option(help: "Group-commit window in milliseconds (0: one commit per change).") var commitWindowMs = 0.0

    func run() throws {
        let data = try opts.scratch("metaops")
        var options = StoreOptions(durability: .relaxed)
        options.commitWindow = commitWindowMs / 1000
        let store = try VolumeStore(dataDir: data, options: options)
        let v = try store.volume(try store.createVolume(owner: "bench", name: "meta").volumeId, owner: nil)
        let view = try MountView(volume: v)
        let who = Caller(uid: 0, gid: 0, origin: 7)
        let dir = try view.create(parent: MountView.rootIno, name: Data("meta".utf8), kind: .directory, mode: 0o755, caller: who)
        let payload = Data(repeating: 120, count: 1024)
        var t: [String: Double] = [:]
        func timed<T>(_ k: String, _ body: () throws -> T) rethrows -> T {
            let s = DispatchTime.now().uptimeNanoseconds
            // Counted when `body` throws too (a lookup of a name not yet created).
            defer { t[k, default: 0] += Double(DispatchTime.now().uptimeNanoseconds - s) / 1e3 }
            return try body()
        }
        let names = (0..<files).map { Data(String(format: "f%05d", $0).utf8) }
        for n in names {
            do {
                _ = try timed("lookup (miss)") { try view.lookup(parent: dir.ino, name: n) }
            } catch {}
            let a = try timed("create") { try view.create(parent: dir.ino, name: n, kind: .file, mode: 0o644, caller: who) }
            try timed("openCreated") { try view.openCreated(a) }
            _ = try timed("write 1 KiB") { try view.write(a.ino, offset: 0, data: payload, caller: who) }
            try timed("flush") { try view.flush(a.ino, caller: who) }
            try timed("release") { try view.release(a.ino, caller: who) }
        }
        for n in names { _ = try timed("lookup (hit)") { try view.lookup(parent: dir.ino, name: n) } }
        _ = try timed("readdir (all)") {
            var after: Data?
            while true {
                let e = try view.readdir(dir.ino, after: after, limit: 1024)
                guard let last = e.last else { break }
                after = last.name
            }
        }
        for n in names { try timed("unlink") { try view.unlink(parent: dir.ino, name: n, caller: who) } }
        for (k, us) in t.sorted(by: { $0.key < $1.key }) {
            // Every row ran once per file (the listing once per entry).
            print(String(format: "%-16@ %8.1f us per %@", k as NSString, us / Double(files), (k.hasPrefix("readdir") ? "entry" : "call") as NSString))
        }
        if !opts.keep { try? FileManager.default.removeItem(at: URL(fileURLWithPath: opts.dir)) }
    }
}
