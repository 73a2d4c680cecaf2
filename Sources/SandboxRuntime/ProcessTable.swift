// What /proc says about processes: start times, which processes share a PID namespace, whether they are stopped.
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Reads `/proc`.
public enum ProcessTable {
    /// The fields of `/proc/PID/stat` after the command name (which may hold spaces and parentheses).
    static func statFields(_ pid: Int32) -> [Substring]? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(separator: " ")
    }

    /// The process's start time in clock ticks after boot, or nil when there is no such process.
    public static func startTime(of pid: Int32) -> UInt64? {
        // After the name: state is field 3, starttime is field 22 (index 19 here). A zombie is not alive.
        guard let f = statFields(pid), f.count > 19, f[0] != "Z" else { return nil }
        return UInt64(f[19])
    }

    /// The process's state letter (`R`, `S`, `T` stopped, `Z`, ...).
    public static func state(of pid: Int32) -> Character? { statFields(pid)?.first?.first }

    /// The PID namespace a process lives in (`pid:[4026532177]`).
    public static func pidNamespace(of pid: Int32) -> String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/pid")
    }

    /// Every process in the PID namespace that `pid` lives in (it included), as the host numbers them.
    public static func members(ofNamespaceOf pid: Int32) -> [Int32] {
        guard let ns = pidNamespace(of: pid) else { return [] }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { Int32($0) }.filter { pidNamespace(of: $0) == ns }.sorted()
    }
}
