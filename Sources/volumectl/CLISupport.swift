// Helpers the volumectl commands share: opening the store and a volume, local files, durations, key-value output.
import ArgumentParser
import Foundation
import VolumeCore

#if canImport(Glibc)
import Glibc
#endif

extension GlobalOptions {
    /// Opens the store, runs `body`, and closes the store (committing buffered writes) on every path.
    func withStore<T>(_ body: (VolumeStore) throws -> T) throws -> T {
        let store = try openStore()
        do {
            let result = try body(store)
            try store.close()
            return result
        } catch {
            try? store.close()
            throw error
        }
    }

    /// Resolves `ref` (a volume ID or a unique name, within `scope`) and runs `body` with the open volume.
    func withVolume<T>(_ ref: String, _ body: (VolumeStore, Volume) throws -> T) throws -> T {
        try withStore { store in
            let id = try store.resolve(ref, owner: scope)
            return try body(store, try store.volume(id, owner: scope))
        }
    }

    /// Prints `value` as JSON when `--json` was given, else runs `human`.
    func output<T: Encodable>(_ value: T, human: () -> Void) throws {
        if json { try printJSON(value) } else { human() }
    }
}

/// Prints `key: value` lines with the values aligned.
func printFields(_ pairs: [(String, String)]) {
    let width = pairs.map(\.0.count).max() ?? 0
    for (k, v) in pairs { print((k + ":").padding(toLength: width + 1, withPad: " ", startingAt: 0) + "  " + v) }
}

/// An ISO-8601 time without its fractional seconds, for tables.
func shortTime(_ iso: String) -> String {
    guard let dot = iso.firstIndex(of: "."), let z = iso[dot...].firstIndex(where: { $0 == "Z" || $0 == "+" || $0 == "-" }) else { return iso }
    return String(iso[..<dot] + iso[z...])
}

/// "1 occurrence", "3 occurrences".
func plural(_ n: Int, _ word: String) -> String { "\(n) \(word)\(n == 1 ? "" : "s")" }

/// Files on the local machine (the other side of put and get), with errors that say which side failed.
enum LocalFile {
    /// A local file (or standard input when nil) opened as a byte stream for a streamed write: the same
    /// errors as reading it would give (missing: not found; a directory: exit 4), before a byte is sent.
    static func source(_ path: String?) throws -> FileByteSource {
        guard let path else {
            if isatty(STDIN_FILENO) != 0 {
                writeStderr("volumectl: reading the file's bytes from the terminal; end with Ctrl-D\n")
            }
            return FileByteSource(fd: STDIN_FILENO, name: "standard input", isCancelled: TransferSignals.isCancelled)
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw error(errno, "cannot read local file '\(path)'") }
        var st = stat()
        if fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
            close(fd)
            throw VolumeError.isADirectory("local path '\(path)' is a directory; give one file")
        }
        return FileByteSource(fd: fd, name: "local file '\(path)'", owns: true, isCancelled: TransferSignals.isCancelled)
    }

    /// Creates or truncates a local file and writes `data` to it.
    static func write(_ path: String, _ data: Data) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw error(errno, "cannot write local file '\(path)'") }
        defer { close(fd) }
        if let code = writeAll(fd, data) { throw error(code, "cannot write local file '\(path)'") }
    }

    /// Whether `path` is an existing local directory.
    static func isDirectory(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue
    }

    static func error(_ code: Int32, _ what: String) -> VolumeError {
        let reason = String(cString: strerror(code))
        switch code {
        case ENOENT: return .notFound("\(what): \(reason)")
        case EACCES, EPERM: return .permissionDenied("\(what): \(reason)")
        case EISDIR: return .isADirectory("\(what): \(reason)")
        case ENOTDIR: return .notADirectory("\(what): \(reason)")
        default: return .io(what, errno: code)
        }
    }
}

/// Durations as operators write them: 30s, 15m, 1h, 2h30m, 7d, 0s (a bare number is seconds).
enum DurationText {
    static let units: [String: Double] = ["ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604_800]

    static func parse(_ text: String) throws -> TimeInterval {
        let s = text.trimmingCharacters(in: .whitespaces)
        let bad = ValidationError("'\(text)' is not a duration; write it like 0s, 90s, 30m, 1h, 2h30m or 7d")
        if let seconds = Double(s), seconds >= 0, seconds.isFinite, s.allSatisfy({ $0.isNumber || $0 == "." }) { return seconds }
        var total = 0.0
        var rest = Substring(s)
        guard !rest.isEmpty else { throw bad }
        while !rest.isEmpty {
            let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            rest = rest.dropFirst(number.count)
            let unit = rest.prefix { $0.isASCII && $0.isLetter }
            rest = rest.dropFirst(unit.count)
            guard let v = Double(number), let m = units[String(unit)] else { throw bad }
            total += v * m
        }
        guard total.isFinite, total < 1e12 else { throw bad }
        return total
    }

    /// "1h", "30m", "0s", "1h30m".
    static func format(_ t: TimeInterval) -> String {
        var s = Int(t.rounded())
        if s == 0 { return "0s" }
        var out = ""
        for (unit, size) in [("d", 86400), ("h", 3600), ("m", 60), ("s", 1)] where s >= size {
            out += "\(s / size)\(unit)"
            s %= size
        }
        return out
    }
}

/// Parses a size for a validate() step, turning the core's message into a usage error.
func parseSize(_ text: String) throws -> Int64 {
    let bytes: Int64
    do { bytes = try ByteSize.parse(text) } catch let e as VolumeError {
        if case .invalidArgument(let m) = e { throw ValidationError(m) }
        throw ValidationError("\(e)")
    }
    guard bytes > 0 else { throw ValidationError("a cap must be positive, like 512MiB or 4GiB; 'quota clear' removes an override") }
    return bytes
}

/// Parses an octal mode like 644 or 0755.
/// `--user`: root, UID or UID:GID (names other than root are not looked up: a volume's users are its sandboxes').
func parseUser(_ text: String) throws -> FileOwner {
    do { return try FileOwner(parsing: text) } catch { throw ValidationError("--user: '\(text)' is not root, a UID or UID:GID (like 1000 or 1000:1000)") }
}

func parseMode(_ text: String) throws -> UInt32 {
    guard let m = UInt32(text, radix: 8), m <= 0o7777 else {
        throw ValidationError("'\(text)' is not a file mode; write it in octal, like 644 or 0755")
    }
    return m
}
