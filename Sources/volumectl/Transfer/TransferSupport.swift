// What the transfer commands (import, export, upload, download) share: interrupt handling, a progress
// bar on stderr, VOLUME:/PATH arguments and the one-line summaries.
import ArgumentParser
import Foundation
import Synchronization
import VolumeCore

#if canImport(Glibc)
import Glibc
#endif

/// SIGINT and SIGTERM seen so far. The first asks the transfer to stop cleanly; a second one exits at once.
let transferInterrupts = Atomic<Int>(0)

enum TransferSignals {
    /// Installs the handlers, without SA_RESTART so a blocking read or write returns EINTR and the
    /// transfer notices the signal at once.
    static func install() {
        _ = transferInterrupts.load(ordering: .relaxed)
        var sa = sigaction()
        sa.__sigaction_handler.sa_handler = { _ in
            if transferInterrupts.wrappingAdd(1, ordering: .relaxed).newValue >= 2 { _exit(130) }
        }
        sigemptyset(&sa.sa_mask)
        sa.sa_flags = 0
        sigaction(SIGINT, &sa, nil)
        sigaction(SIGTERM, &sa, nil)
    }

    static let isCancelled: @Sendable () -> Bool = { transferInterrupts.load(ordering: .relaxed) > 0 }
}

/// Runs a transfer command's body: an interruption exits 130 with one line, other errors as `reporting` does.
func transferReporting(_ body: () throws -> Void) throws {
    try reporting {
        do {
            try body()
        } catch let e as VolumeError {
            if case .interrupted = e {
                writeStderr("volumectl: \(e)\n")
                throw ExitCode(130)
            }
            throw e
        }
    }
}

/// A `VOLUME:/PATH` argument.
struct VolumeLocation {
    var volume: String
    var path: String

    init(_ text: String) throws {
        guard let colon = text.firstIndex(of: ":"), colon != text.startIndex else {
            throw ValidationError("'\(text)' is not VOLUME:/PATH (for example vol-abc:/data or my-volume:/)")
        }
        volume = String(text[..<colon])
        let p = String(text[text.index(after: colon)...])
        path = p.isEmpty ? "/" : (p.hasPrefix("/") ? p : "/" + p)
    }
}

/// A one-line progress bar on stderr, redrawn at most ten times a second; silent when stderr is
/// not a terminal or with --quiet.
final class TransferProgressBar: Sendable {
    private struct State {
        var started = Date()
        var lastDraw = Date.distantPast
        var drawn = false
        var last: TransferProgress?
    }
    let enabled: Bool
    let verb: String
    private let state = Mutex(State())

    init(verb: String, quiet: Bool) {
        self.verb = verb
        enabled = !quiet && isatty(2) == 1
    }

    private static var columns: Int {
        var ws = winsize()
        if ioctl(2, UInt(TIOCGWINSZ), &ws) == 0 && ws.ws_col > 20 { return Int(ws.ws_col) }
        return 80
    }

    func update(_ p: TransferProgress) {
        guard enabled else { return }
        let line: String? = state.withLock { st in
            st.last = p
            let now = Date()
            guard now.timeIntervalSince(st.lastDraw) >= 0.1 else { return nil }
            st.lastDraw = now
            st.drawn = true
            return Self.render(p, verb: verb, elapsed: now.timeIntervalSince(st.started), width: Self.columns)
        }
        if let line { writeStderr("\r\u{1B}[K\(line)") }
    }

    /// Prints a line above the bar (a dropped entry, say).
    func log(_ text: String) {
        state.withLock { st in
            var out = ""
            if st.drawn { out = "\r\u{1B}[K" }
            out += text + "\n"
            writeStderr(out)
            st.lastDraw = .distantPast
        }
    }

    /// Clears the bar.
    func finish() {
        state.withLock { st in
            if st.drawn { writeStderr("\r\u{1B}[K") }
            st.drawn = false
        }
    }

    static func render(_ p: TransferProgress, verb: String, elapsed: TimeInterval, width: Int) -> String {
        let rate = elapsed > 0.2 ? Double(p.bytesIn) / elapsed : 0
        var parts: [String] = []
        if p.phase == "committing" {
            parts.append("\(verb): committing \(p.entries) entries")
        } else if let total = p.totalIn, total > 0 {
            let frac = min(1, Double(p.bytesIn) / Double(total))
            let barWidth = 20
            let filled = Int(frac * Double(barWidth))
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: barWidth - filled)
            parts.append("\(verb) \(String(format: "%3d%%", Int(frac * 100))) [\(bar)]")
            parts.append("\(ByteSize.format(p.bytesIn))/\(ByteSize.format(total))")
            parts.append("\(ByteSize.format(Int64(rate)))/s")
            if rate > 0 {
                let eta = Int(Double(total - p.bytesIn) / rate)
                parts.append(String(format: "ETA %d:%02d", eta / 60, eta % 60))
            }
        } else {
            parts.append("\(verb) \(ByteSize.format(p.bytesIn))")
            parts.append("\(ByteSize.format(Int64(rate)))/s")
        }
        if p.phase != "committing" { parts.append("\(p.entries) entries") }
        var line = parts.joined(separator: "  ")
        let room = width - line.count - 3
        if room > 8 && !p.current.isEmpty && p.phase != "committing" {
            let cur = p.current.count > room ? "…" + p.current.suffix(room - 1) : p.current
            line += "  " + cur
        }
        return String(line.prefix(width - 1))
    }
}

/// A summary object: the report's own fields plus a few of the command's.
struct TransferSummary<R: Encodable>: Encodable {
    var report: R
    var extra: [String: String]
    var flags: [String: Bool] = [:]
    var seconds: Double

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    func encode(to encoder: Encoder) throws {
        try report.encode(to: encoder)
        var c = encoder.container(keyedBy: Key.self)
        for (k, v) in extra { try c.encode(v, forKey: Key(stringValue: k)) }
        for (k, v) in flags { try c.encode(v, forKey: Key(stringValue: k)) }
        try c.encode((seconds * 1000).rounded() / 1000, forKey: Key(stringValue: "seconds"))
    }
}

/// "1,234 files (1.2 GiB) and 56 directories".
func describeCounts(files: Int, bytes: Int64, directories: Int) -> String {
    "\(files) file\(files == 1 ? "" : "s") (\(ByteSize.format(bytes))) and \(directories) director\(directories == 1 ? "y" : "ies")"
}

/// "3 entries dropped (symbolic link: 2, hard link: 1)", or nil when nothing was dropped.
func describeDrops(_ r: ImportReport) -> String? {
    guard r.droppedCount > 0 else { return nil }
    let reasons = r.droppedByReason.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
    return "\(r.droppedCount) entr\(r.droppedCount == 1 ? "y" : "ies") dropped (\(reasons))"
}
