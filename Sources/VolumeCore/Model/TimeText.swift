// Times as text (ISO 8601 and HTTP dates) formatted directly: a Foundation formatter per call built an ICU formatter each time, a sixth of the daemon's CPU on every authenticated request.
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// UTC times as the API writes them, formatted with `gmtime_r` and no formatter object.
public enum TimeText {
    /// `2026-12-07T16:00:00Z`: ISO 8601 in whole seconds, as `ISO8601DateFormatter()` writes it.
    public static func iso(_ date: Date) -> String {
        let t = parts(date)
        return "\(pad(t.tm_year + 1900, 4))-\(pad(t.tm_mon + 1, 2))-\(pad(t.tm_mday, 2))T\(pad(t.tm_hour, 2)):\(pad(t.tm_min, 2)):\(pad(t.tm_sec, 2))Z"
    }

    /// `2026-12-07T16:00:00.123Z` (`digits` 3) or `...00.123456789Z` (9): ISO 8601 with a fraction of
    /// `digits` (1 to 9) from a time in nanoseconds, also before 1970.
    public static func iso(nanos: Nanos, digits: Int) -> String {
        var secs = nanos / 1_000_000_000
        var frac = nanos % 1_000_000_000
        if frac < 0 { frac += 1_000_000_000; secs -= 1 }
        var s = time_t(secs)
        var t = tm()
        gmtime_r(&s, &t)
        var scale: Int64 = 1
        for _ in 0..<(9 - max(1, min(9, digits))) { scale *= 10 }
        let fraction = pad(Int32(frac / scale), max(1, min(9, digits)))
        return "\(pad(t.tm_year + 1900, 4))-\(pad(t.tm_mon + 1, 2))-\(pad(t.tm_mday, 2))T\(pad(t.tm_hour, 2)):\(pad(t.tm_min, 2)):\(pad(t.tm_sec, 2)).\(fraction)Z"
    }

    /// `Mon, 07 Dec 2026 16:00:00 GMT`: an HTTP date (RFC 9110's IMF-fixdate).
    public static func http(_ date: Date) -> String {
        let t = parts(date)
        let day = days[Int(t.tm_wday)], month = months[Int(t.tm_mon)]
        return "\(day), \(pad(t.tm_mday, 2)) \(month) \(pad(t.tm_year + 1900, 4)) \(pad(t.tm_hour, 2)):\(pad(t.tm_min, 2)):\(pad(t.tm_sec, 2)) GMT"
    }

    static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    static func parts(_ date: Date) -> tm {
        var secs = time_t(floor(date.timeIntervalSince1970))
        var t = tm()
        gmtime_r(&secs, &t)
        return t
    }

    static func pad(_ v: Int32, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}
