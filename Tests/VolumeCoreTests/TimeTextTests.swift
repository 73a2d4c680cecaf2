// TimeText writes the same text as Foundation's formatters (which it replaces on the request path) for any time.
import Foundation
import VolumeCore
import XCTest

final class TimeTextTests: XCTestCase {
    func testISOAndHTTPDatesMatchFoundationsFormatters() {
        let iso = ISO8601DateFormatter()
        let http = DateFormatter()
        http.locale = Locale(identifier: "en_US_POSIX")
        http.timeZone = TimeZone(identifier: "GMT")
        http.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        var seconds: [Double] = [0, 1, 59.999, 951_782_400 /* 2000-02-29 */, 1_798_675_199.5, 4_102_444_800 /* 2100-01-01 */]
        var x: UInt64 = 0x9E3779B97F4A7C15
        for _ in 0..<2000 {
            x = x &* 6364136223846793005 &+ 1442695040888963407
            seconds.append(Double(x % 4_102_444_800) + Double(x % 1000) / 1000)
        }
        for s in seconds {
            let d = Date(timeIntervalSince1970: s)
            XCTAssertEqual(TimeText.iso(d), iso.string(from: d), "\(s)")
            XCTAssertEqual(TimeText.http(d), http.string(from: d), "\(s)")
        }
    }

    func testFractionsFromNanosecondsAlsoBefore1970() {
        XCTAssertEqual(TimeText.iso(nanos: 1_700_000_000_123_456_789, digits: 9), "2023-11-14T22:13:20.123456789Z")
        XCTAssertEqual(TimeText.iso(nanos: 1_700_000_000_123_456_789, digits: 3), "2023-11-14T22:13:20.123Z")
        XCTAssertEqual(TimeText.iso(nanos: -1, digits: 9), "1969-12-31T23:59:59.999999999Z")
        XCTAssertEqual(TimeText.iso(nanos: 5, digits: 9), "1970-01-01T00:00:00.000000005Z")
        // Milliseconds agree with Foundation's formatter with fractional seconds.
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        for ms in stride(from: Int64(0), to: 4_102_444_800_000, by: 97_654_321_987) {
            XCTAssertEqual(TimeText.iso(nanos: ms * 1_000_000, digits: 3), f.string(from: Date(timeIntervalSince1970: Double(ms) / 1000)), "\(ms)")
        }
    }
}
