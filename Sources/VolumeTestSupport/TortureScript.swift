// A deterministic script of volume writes and the model of what it leaves, shared by volume-torture and the crash test.
import Foundation
import VolumeCore

/// A seedable generator (SplitMix64) so a script replays exactly.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// One step of a torture script.
public enum TortureOp: Sendable, CustomStringConvertible {
    case write(String, Data)
    case batch([(String, Data)])
    /// Open, write at an offset, fsync, release (the FUSE write path).
    case writeAt(String, Int, Data)
    case truncate(String, Int)
    case move(String, String)
    case remove(String)

    public var description: String {
        switch self {
        case let .write(p, d): return "write \(p) \(d.count)"
        case let .batch(e): return "batch \(e.map { "\($0.0):\($0.1.count)" }.joined(separator: ","))"
        case let .writeAt(p, o, d): return "writeAt \(p) \(o) \(d.count)"
        case let .truncate(p, n): return "truncate \(p) \(n)"
        case let .move(a, b): return "move \(a) \(b)"
        case let .remove(p): return "remove \(p)"
        }
    }
}

/// Generates ops that are valid for the current model state, and applies them to the model and to a volume.
public struct TortureScript: Sendable {
    public private(set) var files: [String: Data] = [:]
    private var rng: SplitMix64
    public static let directories = ["/d0", "/d1", "/d2"]

    public init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    private mutating func data() -> Data {
        let n = [0, 100, 5000, 70_000, 1_500_000][Int(rng.next() % 5)] + Int(rng.next() % 3000)
        var d = Data(repeating: UInt8(truncatingIfNeeded: rng.next()), count: n)
        var i = 0
        while i < n { d[i] = UInt8(truncatingIfNeeded: rng.next()); i += 4093 }
        return d
    }

    private mutating func newPath() -> String {
        "\(Self.directories[Int(rng.next() % 3)])/f\(rng.next() % 12)"
    }

    private mutating func existing() -> String? {
        let all = files.keys.sorted()
        return all.isEmpty ? nil : all[Int(rng.next() % UInt64(all.count))]
    }

    /// The next op; it is applied to the model at once.
    public mutating func next() -> TortureOp {
        let k = rng.next() % 10
        let op: TortureOp
        switch k {
        case 0...3: op = .write(newPath(), data())
        case 4: op = .batch((0..<3).map { _ in (newPath(), data()) }.reduce(into: [(String, Data)]()) { acc, e in
            if !acc.contains(where: { $0.0 == e.0 }) { acc.append(e) } })
        case 5, 6:
            if let p = existing() {
                let off = Int(rng.next() % UInt64(files[p]!.count + 2_000_000))
                op = .writeAt(p, off, data())
            } else { op = .write(newPath(), data()) }
        case 7:
            if let p = existing() { op = .truncate(p, Int(rng.next() % UInt64(files[p]!.count + 100_000))) } else { op = .write(newPath(), data()) }
        case 8:
            if let p = existing() { op = .move(p, newPath()) } else { op = .write(newPath(), data()) }
        default:
            if let p = existing() { op = .remove(p) } else { op = .write(newPath(), data()) }
        }
        apply(op)
        return op
    }

    private mutating func apply(_ op: TortureOp) {
        switch op {
        case let .write(p, d): files[p] = d
        case let .batch(e): for (p, d) in e { files[p] = d }
        case let .writeAt(p, o, d):
            var cur = files[p]!
            if cur.count < o + d.count { cur.append(Data(count: o + d.count - cur.count)) }
            cur.replaceSubrange(o..<(o + d.count), with: d)
            files[p] = cur
        case let .truncate(p, n):
            var cur = files[p]!
            if n < cur.count { cur = cur.prefix(n) } else { cur.append(Data(count: n - cur.count)) }
            files[p] = cur
        case let .move(a, b):
            if a != b { files[b] = files[a]; files[a] = nil }
        case let .remove(p): files[p] = nil
        }
    }

    /// Creates the script's directories.
    public static func prepare(_ v: Volume) throws {
        for d in directories { try v.makeDirectory(d, parents: true) }
    }

    /// Performs `op` on a volume.
    public static func perform(_ op: TortureOp, on v: Volume) throws {
        switch op {
        case let .write(p, d): try v.writeFile(p, data: d)
        case let .batch(e): try v.writeFiles(e.map { WriteEntry(path: $0.0, data: $0.1) })
        case let .writeAt(p, o, d):
            let ino = try v.attributes(at: p).ino
            try v.open(ino)
            try v.write(ino, offset: Int64(o), data: d, caller: .root)
            try v.fsync(ino, caller: .root)
            try v.release(ino, caller: .root)
        case let .truncate(p, n): try v.truncate(try v.attributes(at: p).ino, to: Int64(n), caller: .root)
        case let .move(a, b): try v.move(a, to: b, overwrite: true)
        case let .remove(p): try v.remove(p)
        }
    }

    /// The volume's files and their contents, for comparison with `files`.
    public static func contents(of v: Volume) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for e in try v.list("/", depth: 10) where e.type == "file" { out[e.path] = try v.readFile(e.path) }
        return out
    }
}

/// Where the package's built executables are (next to the test bundle).
public func productsDirectory(file: String = #filePath) -> URL {
    let bundle = Bundle.main.bundleURL
    for candidate in [bundle, bundle.deletingLastPathComponent()] {
        if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("volumectl").path) { return candidate }
    }
    var root = URL(fileURLWithPath: file)
    while root.path != "/" && !FileManager.default.fileExists(atPath: root.appendingPathComponent("Package.swift").path) {
        root.deleteLastPathComponent()
    }
    return root.appendingPathComponent(".build/debug")
}
