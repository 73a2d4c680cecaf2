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
}
