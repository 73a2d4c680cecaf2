// A seeded random file-operation stress on two mounts of one volume at once, compared with an
// in-memory model after every step; fsck at the end. Operands are indexes into the current model,
// so every generated sequence is valid.
import Foundation
import VolumeCore
import VolumeFUSE
import VolumeTestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// A small deterministic generator (SplitMix64), so a failing seed replays exactly.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The model: paths to directories or to shared file contents (hard links share one box).
final class ModelFile {
    var content: [UInt8]
    init(_ c: [UInt8]) { content = c }
}

enum ModelNode {
    case dir
    case file(ModelFile)
}

final class TwoMountStressTests: MountTestCase {
    func testRandomOperationsOnTwoMountsMatchTheModel() throws {
        for seed: UInt64 in [1, 20_260_101] { try run(seed: seed, steps: 1_200) }
    }

    private func run(seed: UInt64, steps: Int) throws {
        let ts = try TestStore(commitWindow: StoreOptions.mountCommitWindow)
        defer { ts.remove() }
        var rng = SeededRandom(state: seed)
        var model: [String: ModelNode] = ["": .dir]
        var log: [String] = []
        try withMount(ts.volume) { a in
            try withMount(ts.volume) { b in
                let mounts = [a, b]
                func dirs() -> [String] { model.filter { if case .dir = $0.value { return true } else { return false } }.keys.sorted() }
                func files() -> [String] { model.filter { if case .file = $0.value { return true } else { return false } }.keys.sorted() }
                func name() -> String { "n\(Int.random(in: 0..<40, using: &rng))" }
                func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) } }
                func isEmptyDir(_ d: String) -> Bool { !model.keys.contains { $0.hasPrefix(d + "/") } }
                func join(_ d: String, _ n: String) -> String { d.isEmpty ? n : d + "/" + n }

                for step in 0..<steps {
                    let m = mounts[Int.random(in: 0...1, using: &rng)]
                    func at(_ p: String) -> String { m.mountpoint + "/" + p }
                    let op = Int.random(in: 0..<100, using: &rng)
                    var desc = ""
                    do {
                        switch op {
                        case 0..<18: // create a file
                            let p = join(dirs().randomElement(using: &rng)!, name())
                            guard model[p] == nil else { continue }
                            let data = bytes(Int.random(in: 0..<3000, using: &rng))
                            desc = "create \(p) (\(data.count) bytes)"
                            let fd = try Sys.open(at(p), O_CREAT | O_EXCL | O_WRONLY, 0o644)
                            try Sys.write(fd, data)
                            try Sys.close(fd)
                            model[p] = .file(ModelFile(data))
                        case 18..<33: // write somewhere into a file, maybe past its end
                            guard let p = files().randomElement(using: &rng), case .file(let f)? = model[p] else { continue }
                            let off = Int.random(in: 0...(f.content.count + 2000), using: &rng)
                            let data = bytes(Int.random(in: 1..<5000, using: &rng))
                            desc = "write \(p) at \(off) (\(data.count) bytes)"
                            let fd = try Sys.open(at(p), O_WRONLY)
                            try Sys.write(fd, data, at: Int64(off))
                            try Sys.close(fd)
                            if f.content.count < off + data.count { f.content += [UInt8](repeating: 0, count: off + data.count - f.content.count) }
                            f.content.replaceSubrange(off..<(off + data.count), with: data)
                        case 33..<40: // truncate
                            guard let p = files().randomElement(using: &rng), case .file(let f)? = model[p] else { continue }
                            let size = Int.random(in: 0...(f.content.count + 3000), using: &rng)
                            desc = "truncate \(p) to \(size)"
                            try Sys.truncate(at(p), Int64(size))
                            if size < f.content.count { f.content.removeSubrange(size...) } else { f.content += [UInt8](repeating: 0, count: size - f.content.count) }
                        case 40..<50: // mkdir
                            let p = join(dirs().randomElement(using: &rng)!, name())
                            guard model[p] == nil else { continue }
                            desc = "mkdir \(p)"
                            try Sys.mkdir(at(p))
                            model[p] = .dir
                        case 50..<60: // unlink
                            guard let p = files().randomElement(using: &rng) else { continue }
                            desc = "unlink \(p)"
                            try Sys.unlink(at(p))
                            model[p] = nil
                        case 60..<65: // rmdir an empty directory
                            guard let p = dirs().filter({ !$0.isEmpty && isEmptyDir($0) }).randomElement(using: &rng) else { continue }
                            desc = "rmdir \(p)"
                            try Sys.rmdir(at(p))
                            model[p] = nil
                        case 65..<78: // rename a file or directory (replacing a file target)
                            guard let src = model.keys.filter({ !$0.isEmpty }).sorted().randomElement(using: &rng) else { continue }
                            let dst = join(dirs().randomElement(using: &rng)!, name())
                            if dst == src || dst.hasPrefix(src + "/") { continue }
                            switch (model[src]!, model[dst]) {
                            case (_, nil): break
                            case (.file, .file?): break
                            default: continue
                            }
                            desc = "rename \(src) -> \(dst)"
                            try Sys.rename(at(src), at(dst))
                            let moved = model.filter { $0.key == src || $0.key.hasPrefix(src + "/") }
                            for (k, _) in moved { model[k] = nil }
                            for (k, v) in moved { model[dst + k.dropFirst(src.count)] = v }
                        case 78..<84: // hard link
                            guard let p = files().randomElement(using: &rng), case .file(let f)? = model[p] else { continue }
                            let dst = join(dirs().randomElement(using: &rng)!, name())
                            guard model[dst] == nil else { continue }
                            desc = "link \(p) -> \(dst)"
                            try Sys.link(at(p), at(dst))
                            model[dst] = .file(f)
                        case 84..<94: // read a file and compare
                            guard let p = files().randomElement(using: &rng), case .file(let f)? = model[p] else { continue }
                            desc = "read \(p)"
                            let fd = try Sys.open(at(p), O_RDONLY)
                            let got = try Sys.read(fd, count: f.content.count + 100, at: 0)
                            try Sys.close(fd)
                            if got != f.content { throw CheckFailure("content of \(p): \(got.count) bytes, model has \(f.content.count)") }
                        default: // list a directory and compare
                            let d = dirs().randomElement(using: &rng)!
                            desc = "list \(d.isEmpty ? "/" : d)"
                            let expect = Set(model.keys.filter { k in !k.isEmpty && (d.isEmpty ? !k.contains("/") : k.hasPrefix(d + "/") && !k.dropFirst(d.count + 1).contains("/")) }
                                .map { String($0.split(separator: "/").last!) })
                            let got = Set(try Sys.list(d.isEmpty ? m.mountpoint : at(d)))
                            if got != expect { throw CheckFailure("listing of \(d): \(got.sorted()) vs model \(expect.sorted())") }
                        }
                    } catch {
                        XCTFail("seed \(seed) step \(step) [\(m === a ? "A" : "B")] \(desc): \(error)\nlast steps:\n\(log.suffix(15).joined(separator: "\n"))")
                        return
                    }
                    log.append("\(step) [\(m === a ? "A" : "B")] \(desc)")
                    a.settle()
                    b.settle()
                    if step % 300 == 299 {
                        for mm in mounts { try compareTree(mm.mountpoint, model, seed: seed, step: step) }
                    }
                }
                for mm in mounts { try compareTree(mm.mountpoint, model, seed: seed, step: steps) }
            }
        }
        // The files API agrees too.
        let listed = try ts.volume.list("/", depth: 100)
        XCTAssertEqual(Set(listed.map { String($0.path.dropFirst()) }), Set(model.keys.filter { !$0.isEmpty }), "seed \(seed): files API listing")
        for (p, node) in model {
            if case .file(let f) = node { XCTAssertEqual(try ts.volume.readFile("/" + p), Data(f.content), "seed \(seed): \(p) via the files API") }
        }
        assertFsckClean(ts)
    }

    /// Walks a mount and compares every path, kind and file content with the model.
    private func compareTree(_ root: String, _ model: [String: ModelNode], seed: UInt64, step: Int) throws {
        var seen: [String: ModelNode] = ["": .dir]
        func walk(_ rel: String) throws {
            for n in try Sys.list(rel.isEmpty ? root : root + "/" + rel) {
                let p = rel.isEmpty ? n : rel + "/" + n
                let st = try Sys.lstat(root + "/" + p)
                if st.fileType == S_IFDIR {
                    seen[p] = .dir
                    try walk(p)
                } else {
                    seen[p] = .file(ModelFile(Array(try Sys.readFile(root + "/" + p).utf8)))
                }
            }
        }
        try walk("")
        XCTAssertEqual(Set(seen.keys), Set(model.keys), "seed \(seed) step \(step): paths under \(root)")
        for (p, node) in model {
            guard case .file(let f) = node else { continue }
            let fd = try Sys.open(root + "/" + p, O_RDONLY)
            defer { close(fd) }
            XCTAssertEqual(try Sys.read(fd, count: f.content.count + 10, at: 0), f.content, "seed \(seed) step \(step): \(p) under \(root)")
        }
    }
}
