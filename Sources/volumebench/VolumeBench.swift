// volumebench: measures the core store's bars side by side with a plain directory on the same disk.
import ArgumentParser
import Foundation
import VolumeCore

@main
struct VolumeBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "volumebench",
        abstract: "Benchmarks of the volume store, each next to its peer in the same run. Run tools/bench-core.sh.",
        subcommands: [Throughput.self, Dedup.self, Scale.self, RandomWrite.self, MetaOps.self, HelloServer.self]
    )
}

/// Options every benchmark takes.
struct BenchOptions: ParsableArguments {
    @Option(help: "Scratch directory on the disk to measure (default: ./bench-out).") var dir: String = "bench-out"
    @Flag(help: "Keep the scratch data afterwards.") var keep = false

    func scratch(_ name: String) throws -> URL {
        let u = URL(fileURLWithPath: dir).appendingPathComponent(name)
        try? FileManager.default.removeItem(at: u)
        try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }
}

/// Wall-clock seconds of `body`.
func time(_ body: () throws -> Void) rethrows -> Double {
    let t = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9
}

/// Drops the page cache when permitted (root), so reads come from disk for every contender alike.
func dropCaches() -> Bool {
    sync()
    return (try? "3".write(toFile: "/proc/sys/vm/drop_caches", atomically: false, encoding: .utf8)) != nil
}

/// A row of the results table.
func report(_ name: String, ours: Double, peer: Double, unit: String, bar: Double, higherIsBetter: Bool = true) {
    let ratio = higherIsBetter ? ours / peer : peer / ours
    let verdict = ratio >= bar ? "ok" : "BELOW BAR"
    print(String(format: "%-34@ %12.1f %12.1f  %-6@ ratio %.2f  (bar %.2f) %@", name as NSString, ours, peer, unit as NSString, ratio, bar, verdict as NSString))
}

/// Deterministic file content: distinct per index, not compressible by dedup.
func content(_ i: Int, size: Int) -> Data {
    var d = Data(count: size)
    d.withUnsafeMutableBytes { buf in
        let words = buf.bindMemory(to: UInt64.self)
        var x = UInt64(i + 1) &* 0x9E37_79B9_7F4A_7C15
        for k in 0..<words.count { x ^= x << 13; x ^= x >> 7; x ^= x << 17; words[k] = x }
    }
    return d
}

struct Throughput: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write N files of SIZE through the core and read them back, vs a plain directory, in interleaved rounds.")
    @OptionGroup var opts: BenchOptions
    @Option(help: "Number of files.") var files = 1000
    @Option(help: "Bytes per file.") var size = 1 << 20
    @Option(help: "full or relaxed.") var durability = "full"
    @Option(help: "Rounds; each runs both contenders, alternating which goes first. Medians are reported.") var rounds = 3

    func run() throws {
        let dur = Durability(rawValue: durability) ?? .full
        let total = Double(files * size) / 1_048_576
        let blobs = (0..<files).map { content($0, size: size) }
        var plainW: [Double] = [], plainR: [Double] = [], ourW: [Double] = [], ourR: [Double] = []
        var dropped = false

        func plainRound() throws {
            let plain = try opts.scratch("plain")
            sync()
            plainW.append(try time {
                for i in 0..<files {
                    let path = plain.appendingPathComponent("f\(i)").path
                    let fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0o644)
                    guard fd >= 0 else { throw VolumeError.io("open \(path)", errno: errno) }
                    _ = blobs[i].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                    if dur == .full { fsync(fd) }
                    close(fd)
                }
            })
            dropped = dropCaches()
            plainR.append(try time { for i in 0..<files { _ = try Data(contentsOf: plain.appendingPathComponent("f\(i)")) } })
            try FileManager.default.removeItem(at: plain)
        }
        func ourRound() throws {
            let data = try opts.scratch("store")
            sync()
            let store = try VolumeStore(dataDir: data, options: StoreOptions(defaultCapBytes: 1 << 40, durability: dur))
            let v = try store.volume(try store.createVolume(owner: "bench", name: "throughput").volumeId, owner: nil)
            ourW.append(try time { for i in 0..<files { try v.writeFile("/f\(i)", data: blobs[i]) } })
            _ = dropCaches()
            ourR.append(try time { for i in 0..<files { _ = try v.readFile("/f\(i)") } })
            try store.close()
            try FileManager.default.removeItem(at: data)
        }
        for r in 0..<rounds {
            if r % 2 == 0 { try plainRound(); try ourRound() } else { try ourRound(); try plainRound() }
        }
        func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }
        print("throughput: \(files) files x \(size) bytes, durability \(dur.rawValue) (plain dir \(dur == .full ? "with" : "without") fsync per file), "
              + "\(rounds) interleaved rounds, medians; caches dropped before reads: \(dropped)")
        print(String(format: "  rounds, MiB/s write: volume %@ | plain %@", ourW.map { String(format: "%.0f", total / $0) }.joined(separator: " ") as NSString,
                     plainW.map { String(format: "%.0f", total / $0) }.joined(separator: " ") as NSString))
        print(String(format: "%-34@ %12@ %12@", "" as NSString, "volume" as NSString, "plain dir" as NSString))
        report("write", ours: total / median(ourW), peer: total / median(plainW), unit: "MiB/s", bar: 0.5)
        report("read", ours: total / median(ourR), peer: total / median(plainR), unit: "MiB/s", bar: 0.5)
    }
}

struct Dedup: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Store the same data in two volumes; stored bytes must grow by under 1%.")
    @OptionGroup var opts: BenchOptions
    @Option(help: "MiB of data.") var mib = 256

    func run() throws {
        let data = try opts.scratch("dedup")
        let store = try VolumeStore(dataDir: data, options: StoreOptions(durability: .relaxed))
        let blobs = (0..<mib).map { content($0, size: 1 << 20) }
        for name in ["first", "second"] {
            let v = try store.volume(try store.createVolume(owner: "bench", name: name).volumeId, owner: nil)
            for (i, b) in blobs.enumerated() { try v.writeFile("/data/part-\(i)", data: b, createParents: true) }
            let s = try store.chunks.stats()
            print("after volume \(name): \(s.chunks) chunks, \(ByteSize.format(s.bytes)) stored")
        }
        let one = Int64(mib) << 20
        let stored = try store.chunks.stats().bytes
        let growth = Double(stored - one) / Double(one) * 100
        print(String(format: "dedup: 2 x %d MiB logical, %@ stored; second volume grew stored bytes by %.3f%% (bar < 1%%) %@",
                     mib, ByteSize.format(stored) as NSString, growth, (growth < 1 ? "ok" : "BELOW BAR") as NSString))
        if !opts.keep { try? FileManager.default.removeItem(at: URL(fileURLWithPath: opts.dir)) }
    }
}

struct Scale: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create N tiny files (100,000 in one directory), list that directory, stat paths.")
    @OptionGroup var opts: BenchOptions
    @Option(help: "Total files.") var files = 1_000_000
    @Option(help: "Files in the one big directory.") var bigDir = 100_000
    @Option(help: "Files per batch write.") var batch = 1000

    func run() throws {
        let data = try opts.scratch("scale")
        let store = try VolumeStore(dataDir: data, options: StoreOptions(durability: .full))
        let v = try store.volume(try store.createVolume(owner: "bench", name: "scale").volumeId, owner: nil)
        var made = 0
        var paths: [String] = []
        let create = try time {
            while made < files {
                let dir = made < bigDir ? "/big" : "/spread/d\((made - bigDir) / 1000)"
                let n = min(batch, files - made, made < bigDir ? bigDir - made : batch)
                let entries = (0..<n).map { k in WriteEntry(path: "\(dir)/file-\(made + k)", data: Data("tiny \(made + k)\n".utf8)) }
                try v.writeFiles(entries, createParents: true)
                if made % 10_000 == 0 { paths.append(entries[0].path) }
                made += n
            }
        }
        let fs = try v.statfs()
        let stats = try store.chunks.stats()
        let onDisk = FileManager.default.enumerator(atPath: data.path)!.allObjects.count
        var listed = 0
        let list = try time { listed = try v.list("/big").count }
        var stats1: [Double] = []
        for _ in 0..<5 { for p in paths { stats1.append(try time { _ = try v.stat(p) }) } }
        stats1.sort()
        let median = stats1[stats1.count / 2] * 1000
        print("scale: \(made) files (\(fs.files) in the catalog, \(stats.chunks) chunks, \(onDisk) files and folders on disk in the data dir)")
        print(String(format: "  create %d files: %.1f s (%.0f files/s; bar < 120 s) %@", made, create, Double(made) / create, (create < 120 ? "ok" : "BELOW BAR") as NSString))
        print(String(format: "  list a %d-entry directory: %.3f s (bar < 1 s) %@", listed, list, (list < 1 ? "ok" : "BELOW BAR") as NSString))
        print(String(format: "  stat median over %d paths: %.3f ms (bar < 1 ms) %@", stats1.count, median, (median < 1 ? "ok" : "BELOW BAR") as NSString))
        if !opts.keep { try? FileManager.default.removeItem(at: URL(fileURLWithPath: opts.dir)) }
    }
}

struct RandomWrite: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "randomwrite", abstract: "Random 4 KiB writes into a large file: how many bytes each one re-stores.")
    @OptionGroup var opts: BenchOptions
    @Option(help: "MiB in the file.") var mib = 1024
    @Option(help: "Random writes, each committed on its own.") var writes = 100

    func run() throws {
        let data = try opts.scratch("randomwrite")
        let store = try VolumeStore(dataDir: data, options: StoreOptions(defaultCapBytes: 1 << 40, durability: .full))
        let v = try store.volume(try store.createVolume(owner: "bench", name: "rw").volumeId, owner: nil)
        let f = try v.create(parent: 1, name: Data("big".utf8), kind: .file, mode: 0o644, caller: .root)
        try v.open(f.ino)
        for i in 0..<mib { try v.write(f.ino, offset: Int64(i) << 20, data: content(i, size: 1 << 20), caller: .root) }
        try v.release(f.ino, caller: .root)
        let before = try store.chunks.stats()
        var rng = SystemRandomNumberGenerator()
        let elapsed = try time {
            for i in 0..<writes {
                try v.open(f.ino)
                let off = Int64.random(in: 0..<(Int64(mib) << 20 - 4096), using: &rng) & ~4095
                try v.write(f.ino, offset: off, data: content(1_000_000 + i, size: 4096), caller: .root)
                try v.fsync(f.ino, caller: .root)
                try v.release(f.ino, caller: .root)
            }
        }
        let after = try store.chunks.stats()
        print(String(format: "randomwrite: %d random 4 KiB writes into a %d MiB file, each fsynced: %d new chunks, %@ stored (%@ per write; the file is %@); %.2f ms per write",
                     writes, mib, after.chunks - before.chunks, ByteSize.format(after.bytes - before.bytes) as NSString,
                     ByteSize.format((after.bytes - before.bytes) / Int64(writes)) as NSString, ByteSize.format(Int64(mib) << 20) as NSString,
                     elapsed / Double(writes) * 1000))
        if !opts.keep { try? FileManager.default.removeItem(at: URL(fileURLWithPath: opts.dir)) }
    }
}
