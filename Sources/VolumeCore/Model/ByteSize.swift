// Parses and prints byte sizes the way operators write them: 512MiB, 4GiB, 1.5G, 1048576.
import Foundation

/// Byte-size parsing ("512MiB", "4GiB", "10MB", "123") and human formatting.
public enum ByteSize {
    /// Parses a size; binary (KiB, MiB, GiB, TiB, K, M, G, T) and decimal (KB, MB, GB, TB) units.
    public static func parse(_ text: String) throws -> Int64 {
        let s = text.trimmingCharacters(in: .whitespaces)
        let digits = s.prefix { $0.isNumber || $0 == "." }
        let unit = s.dropFirst(digits.count).trimmingCharacters(in: .whitespaces).lowercased()
        guard let value = Double(digits), value >= 0 else {
            throw VolumeError.invalidArgument("'\(text)' is not a size; write it like 512MiB, 4GiB or 1048576")
        }
        let multipliers: [String: Double] = [
            "": 1, "b": 1,
            "k": 1024, "kib": 1024, "m": 1_048_576, "mib": 1_048_576, "g": 1_073_741_824, "gib": 1_073_741_824,
            "t": 1_099_511_627_776, "tib": 1_099_511_627_776,
            "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
        ]
        guard let m = multipliers[unit] else {
            throw VolumeError.invalidArgument("'\(text)' has an unknown unit '\(unit)'; use B, KiB, MiB, GiB or TiB")
        }
        let bytes = value * m
        guard bytes < 9.2e18 else { throw VolumeError.invalidArgument("'\(text)' is too large") }
        return Int64(bytes.rounded())
    }

    /// Formats bytes with a binary unit: "2.0 GiB", "512 B".
    public static func format(_ bytes: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var v = Double(bytes)
        var i = 0
        while abs(v) >= 1024, i < units.count - 1 { v /= 1024; i += 1 }
        return i == 0 ? "\(bytes) B" : String(format: "%.1f %@", v, units[i])
    }
}
