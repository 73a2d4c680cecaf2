// Reference-model test: seeded random file operations on a real volume and on a tiny in-memory model, compared after every step.
import Foundation
import XCTest
@testable import VolumeCore
import VolumeTestSupport

/// A small, fast, seedable generator (SplitMix64), so a failing run replays exactly.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// What the model holds at a path.
enum ModelNode: Equatable {
    case file(Data)
    case dir
}

/// The model: a flat map from absolute path to node, with POSIX rules written out plainly.
struct FileModel {
    var nodes: [String: ModelNode] = ["/": .dir]

    static func parent(_ p: String) -> String {
        let parts = p.split(separator: "/")
        return parts.count <= 1 ? "/" : "/" + parts.dropLast().joined(separator: "/")
    }
    static func join(_ dir: String, _ name: String) -> String { dir == "/" ? "/" + name : dir + "/" + name }

    func children(_ dir: String) -> [String] { nodes.keys.filter { $0 != "/" && Self.parent($0) == dir } }
    func descendants(_ dir: String) -> [String] { nodes.keys.filter { $0.hasPrefix(dir == "/" ? "/" : dir + "/") && $0 != dir } }
    var usage: Int64 { nodes.values.reduce(0) { if case .file(let d) = $1 { return $0 + Int64(d.count) }; return $0 } }
    var fileCount: Int64 { Int64(nodes.values.filter { if case .file = $0 { return true }; return false }.count) }

    /// Returns the errno the real volume must fail with, or nil when it must succeed (and applies it).
    mutating func write(_ p: String, _ data: Data) -> Int32? {
        guard nodes[Self.parent(p)] == .dir else { return ENOENT }
        if nodes[p] == .dir { return EISDIR }
        nodes[p] = .file(data)
        return nil
    }

    mutating func batch(_ entries: [(String, Data)]) -> Int32? {
        var copy = self
        for (p, d) in entries { if let e = copy.write(p, d) { return e } }
        self = copy
        return nil
    }

    mutating func writeAt(_ p: String, _ offset: Int, _ data: Data) {
        guard case .file(var d) = nodes[p] else { return }
        if d.count < offset + data.count { d.append(Data(count: offset + data.count - d.count)) }
        d.replaceSubrange(offset..<(offset + data.count), with: data)
        nodes[p] = .file(d)
    }

    mutating func truncate(_ p: String, _ size: Int) {
        guard case .file(var d) = nodes[p] else { return }
        if size < d.count { d = d.prefix(size) } else { d.append(Data(count: size - d.count)) }
        nodes[p] = .file(d)
    }

    mutating func mkdir(_ p: String) -> Int32? {
        guard nodes[Self.parent(p)] == .dir else { return ENOENT }
        if nodes[p] != nil { return EEXIST }
        nodes[p] = .dir
        return nil
    }

    mutating func remove(_ p: String, recursive: Bool) -> Int32? {
        guard let n = nodes[p] else { return ENOENT }
        if n == .dir && !children(p).isEmpty && !recursive { return ENOTEMPTY }
        for d in descendants(p) { nodes[d] = nil }
        nodes[p] = nil
        return nil
    }

    mutating func move(_ src: String, _ dst: String, overwrite: Bool) -> Int32? {
        guard let s = nodes[src] else { return ENOENT }
        guard nodes[Self.parent(dst)] == .dir else { return ENOENT }
        if src == dst { return nil }
        if s == .dir && (dst.hasPrefix(src + "/")) { return EINVAL }
        if let d = nodes[dst] {
            if !overwrite { return EEXIST }
            if s == .dir {
                guard d == .dir else { return ENOTDIR }
                guard children(dst).isEmpty else { return ENOTEMPTY }
            } else if d == .dir {
                return EISDIR
            }
        }
        let moved = descendants(src)
        nodes[dst] = s
        nodes[src] = nil
        for m in moved {
            nodes[dst + m.dropFirst(src.count)] = nodes[m]
            nodes[m] = nil
        }
        return nil
    }
}

final class ReferenceModelTests: XCTestCase {
    static let names = ["a", "b", "c", "dir", "e.txt", "f"]

    func errnoOf(_ body: () throws -> Void) -> Int32? {
        do { try body(); return nil } catch let e as VolumeError { return e.errno } catch { return -1 }
    }

    func run(seed: UInt64, steps: Int, smallLimit: Int, commitWindow: Double = 0) throws {
        let dir = try TemporaryDirectory("refmodel")
        let chunks = try LocalChunkStore(root: dir.url.appendingPathComponent("chunks-custom"), smallLimit: smallLimit)
        let ts = try TestStore(blockSize: 4096, chunks: chunks, commitWindow: commitWindow)
        defer { ts.remove(); dir.remove() }
        let v = ts.volume
        var model = FileModel()
        var rng = SeededRandom(seed: seed)
        var log: [String] = []

        func randomData(_ max: Int) -> Data {
            let n = Int.random(in: 0...max, using: &rng)
            var d = Data(count: n)
            let base = UInt8.random(in: 0...255, using: &rng)
            // compressible runs with a few random bytes: block dedup happens, and differences too
            for i in 0..<n where i % 997 == 0 { d[i] = UInt8.random(in: 0...255, using: &rng) }
            if n > 0 { d[0] = base }
            return d
        }
        func pick(_ filter: (ModelNode) -> Bool) -> String? {
            let all = model.nodes.filter { filter($0.value) }.keys.sorted()
            return all.isEmpty ? nil : all[Int.random(in: 0..<all.count, using: &rng)]
        }
        func newPath() -> String {
            FileModel.join(pick { $0 == .dir } ?? "/", Self.names[Int.random(in: 0..<Self.names.count, using: &rng)])
        }
        func anyPath() -> String? { pick { _ in true }.flatMap { $0 == "/" ? nil : $0 } }

        for step in 0..<steps {
            let op = Int.random(in: 0..<100, using: &rng)
            var expected: Int32?
            var actual: Int32?
            var what = ""
            switch op {
            case 0..<22:
                let p = Int.random(in: 0..<3, using: &rng) == 0 ? (pick { if case .file = $0 { return true }; return false } ?? newPath()) : newPath()
                let d = randomData(20_000)
                what = "write \(p) \(d.count)"
                expected = model.write(p, d)
                actual = errnoOf { try v.writeFile(p, data: d) }
            case 22..<36:
                guard let p = pick({ if case .file = $0 { return true }; return false }), case .file(let cur) = model.nodes[p] else { continue }
                let off = Int.random(in: 0...(cur.count + 5000), using: &rng)
                let d = randomData(9000)
                what = "writeAt \(p) \(off) \(d.count)"
                model.writeAt(p, off, d)
                actual = errnoOf {
                    let ino = try v.attributes(at: p).ino
                    try v.open(ino)
                    try v.write(ino, offset: Int64(off), data: d, caller: .root)
                    if Bool.random(using: &rng) { try v.flush(ino, caller: .root) }
                    try v.release(ino, caller: .root)
                }
            case 36..<44:
                guard let p = pick({ if case .file = $0 { return true }; return false }), case .file(let cur) = model.nodes[p] else { continue }
                let size = Int.random(in: 0...(cur.count + 6000), using: &rng)
                what = "truncate \(p) \(size)"
                model.truncate(p, size)
                actual = errnoOf { try v.truncate(try v.attributes(at: p).ino, to: Int64(size), caller: .root) }
            case 44..<56:
                let p = newPath()
                what = "mkdir \(p)"
                expected = model.mkdir(p)
                actual = errnoOf { try v.makeDirectory(p) }
            case 56..<66:
                guard let p = anyPath() else { continue }
                let r = Bool.random(using: &rng)
                what = "remove \(p) recursive=\(r)"
                expected = model.remove(p, recursive: r)
                actual = errnoOf { try v.remove(p, recursive: r) }
            case 66..<80:
                guard let s = anyPath() else { continue }
                let d = Int.random(in: 0..<4, using: &rng) == 0 ? (anyPath() ?? newPath()) : newPath()
                let o = Bool.random(using: &rng)
                what = "move \(s) \(d) overwrite=\(o)"
                expected = model.move(s, d, overwrite: o)
                actual = errnoOf { try v.move(s, to: d, overwrite: o) }
            case 80..<88:
                let entries = (0..<Int.random(in: 2...4, using: &rng)).map { _ in (newPath(), randomData(6000)) }
                guard Set(entries.map(\.0)).count == entries.count else { continue }
                what = "batch \(entries.map { "\($0.0):\($0.1.count)" })"
                expected = model.batch(entries)
                actual = errnoOf { try v.writeFiles(entries.map { WriteEntry(path: $0.0, data: $0.1) }) }
            default:
                guard let p = pick({ if case .file = $0 { return true }; return false }), case .file(let cur) = model.nodes[p] else { continue }
                what = "read \(p)"
                let got = try v.readFile(p)
                XCTAssertEqual(got, cur, "seed \(seed) step \(step): \(what)\n\(log.suffix(20).joined(separator: "\n"))")
                if got != cur { return }
            }
            log.append("\(step): \(what) -> \(expected.map(String.init) ?? "ok")")
            guard actual == expected else {
                XCTFail("seed \(seed) step \(step): \(what): volume gave errno \(actual.map(String.init) ?? "none"), model \(expected.map(String.init) ?? "none")\n\(log.suffix(20).joined(separator: "\n"))")
                return
            }
            let fs = try v.statfs()
            guard fs.usedBytes == model.usage, fs.files == model.fileCount else {
                XCTFail("seed \(seed) step \(step): \(what): usage \(fs.usedBytes)/\(fs.files) vs model \(model.usage)/\(model.fileCount)\n\(log.suffix(20).joined(separator: "\n"))")
                return
            }
            if step % 250 == 0 || step == steps - 1 {
                let tree = try v.list("/", depth: 1000).map { "\($0.path) \($0.type) \($0.size)" }.sorted()
                let want = model.nodes.filter { $0.key != "/" }.map { k, n -> String in
                    if case .file(let d) = n { return "\(k) file \(d.count)" }
                    return "\(k) dir 0"
                }.sorted()
                XCTAssertEqual(tree, want, "seed \(seed) step \(step)")
                if tree != want { return }
                for (k, n) in model.nodes { if case .file(let d) = n { XCTAssertEqual(try v.readFile(k), d, "seed \(seed) step \(step) \(k)") } }
            }
        }
        XCTAssertEqual(try ts.fsckProblems(), [], "seed \(seed)")
        guard commitWindow > 0 else { return }
        // What another process sees once the last group committed: the same tree, the same bytes.
        try v.sync()
        let other = try VolumeStore(dataDir: ts.dir.url, options: StoreOptions(durability: .relaxed),
                                    chunks: LocalChunkStore(root: dir.url.appendingPathComponent("chunks-custom"), smallLimit: smallLimit))
        defer { try? other.close() }
        let theirs = try other.volume(ts.volumeID, owner: nil)
        for (k, n) in model.nodes { if case .file(let d) = n { XCTAssertEqual(try theirs.readFile(k), d, "seed \(seed) \(k) from another process") } }
        XCTAssertEqual(try theirs.statfs().usedBytes, model.usage)
    }

    /// 10,000 operations with blocks split between packed (SQLite) and file chunks.
    func testTenThousandRandomOperations() throws {
        let seed = ProcessInfo.processInfo.environment["REFMODEL_SEED"].flatMap(UInt64.init) ?? 20261123
        try run(seed: seed, steps: 10_000, smallLimit: 2048)
    }

    /// Changes grouped into shared commits (as a mount makes them), small chunks held back until
    /// each group commits: the same answers, and another process sees the same tree after a sync.
    func testGroupCommitsGiveTheSameAnswers() throws {
        try run(seed: 99, steps: 4000, smallLimit: 2048, commitWindow: 0.005)
    }

    /// A second seed with every chunk packed in SQLite.
    func testAnotherSeedAllPacked() throws {
        try run(seed: 7, steps: 3000, smallLimit: 64 * 1024)
    }
}
