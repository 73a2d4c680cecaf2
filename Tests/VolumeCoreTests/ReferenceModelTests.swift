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

    /// `handles`: also open files and keep them open across steps, writing, flushing and closing
    /// them between the other operations. `processes: 2`: every operation runs in one of two
    /// stores on the data directory (two processes), each polling the other's commits at every
    /// step, as a mount does.
    func run(seed: UInt64, steps: Int, smallLimit: Int, commitWindow: Double = 0, handles useHandles: Bool = false,
             processes: Int = 1) throws {
        let dir = try TemporaryDirectory("refmodel")
        let chunks = try LocalChunkStore(root: dir.url.appendingPathComponent("chunks-custom"), smallLimit: smallLimit)
        let ts = try TestStore(blockSize: 4096, chunks: chunks, commitWindow: commitWindow)
        defer { ts.remove(); dir.remove() }
        var stores: [VolumeStore] = []
        defer { for s in stores { try? s.close() } }
        var vols = [ts.volume]
        for _ in 1..<processes {
            let s = try VolumeStore(dataDir: ts.dir.url, options: StoreOptions(durability: .relaxed),
                                    chunks: LocalChunkStore(root: dir.url.appendingPathComponent("chunks-custom"), smallLimit: smallLimit))
            stores.append(s)
            vols.append(try s.volume(ts.volumeID, owner: nil))
        }
        var v = ts.volume
        var proc = 0
        var model = FileModel()
        var open = HandleModel()
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
        func pickHandle() -> Int? { open.handles.isEmpty ? nil : Int.random(in: 0..<open.handles.count, using: &rng) }

        for step in 0..<steps {
            let op = Int.random(in: 0..<(useHandles ? 130 : 100), using: &rng)
            if processes > 1 {
                proc = Int.random(in: 0..<processes, using: &rng)
                v = vols[proc]
                // Each process has polled the other's commits, as a mount does every 0.2 s.
                for w in vols { _ = try w.foreignChanges() }
            }
            var expected: Int32?
            var actual: Int32?
            var what = processes > 1 ? "[\(proc)] " : ""
            switch op {
            case 0..<22:
                let p = Int.random(in: 0..<3, using: &rng) == 0 ? (pick { if case .file = $0 { return true }; return false } ?? newPath()) : newPath()
                let d = randomData(20_000)
                what += "write \(p) \(d.count)"
                open.commit(process: proc, at: p, files: &model)
                expected = model.write(p, d)
                actual = errnoOf { try v.writeFile(p, data: d) }
            case 22..<36:
                guard let p = pick({ if case .file = $0 { return true }; return false }), case .file(let cur) = model.nodes[p] else { continue }
                let off = Int.random(in: 0...(cur.count + 5000), using: &rng)
                let d = randomData(9000)
                what += "writeAt \(p) \(off) \(d.count)"
                var ino: UInt64 = 0
                actual = errnoOf {
                    ino = try v.attributes(at: p).ino
                    try v.open(ino)
                    try v.write(ino, offset: Int64(off), data: d, caller: .root)
                    if Bool.random(using: &rng) { try v.flush(ino, caller: .root) }
                    try v.release(ino, caller: .root)
                }
                // The release commits every write this process buffered for the file, this one last.
                open.buffer(process: proc, ino: ino, offset: off, data: d)
                if open.paths[ino] == nil { open.paths[ino] = p }
                open.commit(process: proc, ino: ino, files: &model)
                if !open.handles.contains(where: { $0.ino == ino }) { open.paths[ino] = nil }
            case 36..<44:
                guard let p = pick({ if case .file = $0 { return true }; return false }), case .file(let cur) = model.nodes[p] else { continue }
                let size = Int.random(in: 0...(cur.count + 6000), using: &rng)
                what += "truncate \(p) \(size)"
                open.commit(process: proc, at: p, files: &model)
                model.truncate(p, size)
                actual = errnoOf { try v.truncate(try v.attributes(at: p).ino, to: Int64(size), caller: .root) }
            case 44..<56:
                let p = newPath()
                what += "mkdir \(p)"
                expected = model.mkdir(p)
                actual = errnoOf { try v.makeDirectory(p) }
            case 56..<66:
                guard let p = anyPath() else { continue }
                let r = Bool.random(using: &rng)
                what += "remove \(p) recursive=\(r)"
                let before = model
                expected = model.remove(p, recursive: r)
                if expected == nil { open.unlink([p] + before.descendants(p), files: before) }
                actual = errnoOf { try v.remove(p, recursive: r) }
            case 66..<80:
                guard let s = anyPath() else { continue }
                let d = Int.random(in: 0..<4, using: &rng) == 0 ? (anyPath() ?? newPath()) : newPath()
                let o = Bool.random(using: &rng)
                what += "move \(s) \(d) overwrite=\(o)"
                let before = model
                expected = model.move(s, d, overwrite: o)
                if expected == nil && s != d {
                    open.unlink([d], files: before)
                    open.moved(s, d)
                }
                actual = errnoOf { try v.move(s, to: d, overwrite: o) }
            case 80..<88:
                let entries = (0..<Int.random(in: 2...4, using: &rng)).map { _ in (newPath(), randomData(6000)) }
                guard Set(entries.map(\.0)).count == entries.count else { continue }
                what += "batch \(entries.map { "\($0.0):\($0.1.count)" })"
                for (p, _) in entries { open.commit(process: proc, at: p, files: &model) }
                expected = model.batch(entries)
                actual = errnoOf { try v.writeFiles(entries.map { WriteEntry(path: $0.0, data: $0.1) }) }
            case 88..<100:
                guard let p = pick({ if case .file = $0 { return true }; return false }), case .file(let cur) = model.nodes[p] else { continue }
                what += "read \(p)"
                let got = try v.readFile(p)
                let want = open.view(process: proc, path: p, committed: cur)
                XCTAssertEqual(got, want, "seed \(seed) step \(step): \(what)\n\(log.suffix(20).joined(separator: "\n"))")
                if got != want { return }
            case 100..<106:
                guard open.handles.count < 6, let p = pick({ if case .file = $0 { return true }; return false }) else { continue }
                what += "open \(p)"
                let ino = try v.attributes(at: p).ino
                actual = errnoOf { try v.open(ino) }
                if actual == nil { open.open(process: proc, ino: ino, path: p) }
            case 106..<118:
                guard let i = pickHandle() else { continue }
                let h = open.handles[i]
                let size = open.view(h, files: model)?.count ?? 0
                let off = Int.random(in: 0...(size + 3000), using: &rng)
                let d = randomData(6000)
                what += "handle \(i) (\(h.process), ino \(h.ino)) write \(off) \(d.count)"
                actual = errnoOf { try vols[h.process].write(h.ino, offset: Int64(off), data: d, caller: .root) }
                open.buffer(process: h.process, ino: h.ino, offset: off, data: d)
            case 118..<122:
                guard let i = pickHandle() else { continue }
                let h = open.handles[i]
                let durable = Bool.random(using: &rng)
                what += "handle \(i) (\(h.process), ino \(h.ino)) \(durable ? "fsync" : "flush")"
                actual = errnoOf {
                    if durable { try vols[h.process].fsync(h.ino, caller: .root) } else { try vols[h.process].flush(h.ino, caller: .root) }
                }
                open.commit(process: h.process, ino: h.ino, files: &model)
            case 122..<127:
                guard let i = pickHandle() else { continue }
                let h = open.handles[i]
                what += "handle \(i) (\(h.process), ino \(h.ino)) close"
                actual = errnoOf { try vols[h.process].release(h.ino, caller: .root) }
                open.close(i, files: &model)
            default:
                guard let i = pickHandle() else { continue }
                let h = open.handles[i]
                what += "handle \(i) (\(h.process), ino \(h.ino)) read"
                guard let want = open.view(h, files: model) else { continue }
                let got = try vols[h.process].read(h.ino, offset: 0, count: want.count + 100)
                XCTAssertEqual(got, want, "seed \(seed) step \(step): \(what)\n\(log.suffix(20).joined(separator: "\n"))")
                if got != want { return }
            }
            log.append("\(step): \(what) -> \(expected.map(String.init) ?? "ok")")
            guard actual == expected else {
                XCTFail("seed \(seed) step \(step): \(what): volume gave errno \(actual.map(String.init) ?? "none"), model \(expected.map(String.init) ?? "none")\n\(log.suffix(20).joined(separator: "\n"))")
                return
            }
            // The catalog's figures (`statfs` adds what this process's open files have reserved).
            let fs = try v.statfs()
            let used = fs.usedBytes - v.reserved.withLock { $0 }
            let wantUsed = model.usage + open.usage, wantFiles = model.fileCount + Int64(open.orphans.count)
            guard used == wantUsed, fs.files == wantFiles else {
                XCTFail("seed \(seed) step \(step): \(what): usage \(used)/\(fs.files) vs model \(wantUsed)/\(wantFiles)\n\(log.suffix(20).joined(separator: "\n"))")
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
                for (k, n) in model.nodes {
                    if case .file(let d) = n { XCTAssertEqual(try v.readFile(k), open.view(process: proc, path: k, committed: d), "seed \(seed) step \(step) \(k)") }
                }
            }
        }
        while !open.handles.isEmpty {
            let h = open.handles[0]
            for w in vols { _ = try w.foreignChanges() }
            try vols[h.process].release(h.ino, caller: .root)
            open.close(0, files: &model)
        }
        for w in vols { _ = try w.foreignChanges() }
        for (k, n) in model.nodes { if case .file(let d) = n { XCTAssertEqual(try ts.volume.readFile(k), d, "seed \(seed) \(k) after the last close") } }
        XCTAssertEqual(try ts.volume.statfs().usedBytes, model.usage, "seed \(seed) after the last close")
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

    /// Handles kept open across steps, written, flushed and closed between path writes, batches,
    /// truncates, renames and removes of the same files, in one process.
    func testHandlesInterleavedWithPathWrites() throws {
        try run(seed: 1616, steps: 4000, smallLimit: 2048, handles: true)
    }

    /// The same with a mount's commit window.
    func testHandlesInterleavedWithPathWritesInGroups() throws {
        try run(seed: 1617, steps: 3000, smallLimit: 2048, commitWindow: 0.005, handles: true)
    }

    /// The same in two processes: each operation in one of them, each handle in the process that opened it.
    func testHandlesInterleavedWithPathWritesInTwoProcesses() throws {
        let seed = ProcessInfo.processInfo.environment["REFMODEL_SEED"].flatMap(UInt64.init) ?? 1618
        try run(seed: seed, steps: 4000, smallLimit: 2048, handles: true, processes: 2)
    }

    /// A second seed with every chunk packed in SQLite.
    func testAnotherSeedAllPacked() throws {
        try run(seed: 7, steps: 3000, smallLimit: 64 * 1024)
    }
}
