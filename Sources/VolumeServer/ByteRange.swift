// The Range header of a file read: one byte range (`bytes=a-b`, `bytes=a-`, `bytes=-n`), or why it cannot be served.

/// The bytes a read returns: `start` and `length` within a file of `size` bytes.
struct ByteRange: Equatable {
    var start: Int64
    var length: Int64

    /// Parses `header` for a file of `size` bytes. Nil header: the whole file. Anything else that is not
    /// one satisfiable range (several ranges, other units, bad syntax, a start past the end) is 416.
    static func parse(_ header: String?, size: Int64) throws -> ByteRange? {
        guard let header else { return nil }
        let unsatisfiable = APIFailure("out_of_range", "Range '\(header)' cannot be served: give one range 'bytes=START-END' (or START-, or -SUFFIX) within the file's \(size) bytes",
                                       headers: [.contentRange: "bytes */\(size)"])
        let h = header.trimmingCharacters(in: .whitespaces)
        guard h.hasPrefix("bytes=") else { throw unsatisfiable }
        let spec = h.dropFirst(6).trimmingCharacters(in: .whitespaces)
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { throw unsatisfiable }
        let a = spec[..<dash], b = spec[spec.index(after: dash)...]
        func number(_ s: Substring) -> Int64? { s.allSatisfy(\.isASCII) && s.allSatisfy(\.isNumber) && !s.isEmpty ? Int64(s) : nil }
        if a.isEmpty {
            guard let n = number(b), n > 0, size > 0 else { throw unsatisfiable }
            let len = min(n, size)
            return ByteRange(start: size - len, length: len)
        }
        guard let start = number(a), start < size else { throw unsatisfiable }
        if b.isEmpty { return ByteRange(start: start, length: size - start) }
        guard let end = number(b), end >= start else { throw unsatisfiable }
        return ByteRange(start: start, length: min(end, size - 1) - start + 1)
    }
}

import Foundation
