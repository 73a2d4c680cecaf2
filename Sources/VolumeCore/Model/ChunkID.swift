// The name of a chunk: the SHA-256 of its bytes, 32 bytes, with hex parsing and a short form.
import Crypto
import Foundation

/// A chunk's content address: the SHA-256 of its bytes.
public struct ChunkID: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The 32 raw digest bytes.
    public let bytes: Data

    /// Wraps 32 raw bytes; fails on any other length.
    public init?(bytes: Data) {
        guard bytes.count == 32 else { return nil }
        self.bytes = bytes
    }

    /// Parses 64 lowercase or uppercase hex digits.
    public init?(hex: String) {
        guard hex.utf8.count == 64 else { return nil }
        var out = Data(capacity: 32)
        var it = hex.utf8.makeIterator()
        while let hi = it.next(), let lo = it.next() {
            guard let h = Self.nibble(hi), let l = Self.nibble(lo) else { return nil }
            out.append(h << 4 | l)
        }
        self.bytes = out
    }

    /// The ID of `data`: its SHA-256.
    public static func of<D: DataProtocol>(_ data: D) -> ChunkID {
        ChunkID(bytes: Data(SHA256.hash(data: data)))!
    }

    /// Lowercase hex, 64 characters.
    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(64)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The first 12 hex digits, for logs and messages.
    public var short: String { String(hex.prefix(12)) }
    public var description: String { short }

    public static func < (a: ChunkID, b: ChunkID) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
