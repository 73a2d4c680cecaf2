// The written-range list an open file keeps per block (`insertMerging`), checked against a byte map.
import XCTest
@testable import VolumeCore

final class WrittenRangesTests: XCTestCase {
    /// The runs of written bytes in `map`, as ranges.
    private func runs(_ map: [Bool]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var start: Int?
        for i in 0...map.count {
            let w = i < map.count && map[i]  // one unwritten byte past the end closes the last run
            if w, start == nil { start = i }
            if !w, let s = start { out.append(s..<i); start = nil }
        }
        return out
    }

    /// Ranges added in any order (in order, backwards, overlapping, touching, inside others)
    /// leave exactly the runs of bytes written: sorted, disjoint, and merged where they touch.
    func testRangesStayTheRunsOfTheBytesWritten() {
        var rng = SystemRandomNumberGenerator()
        let orders: [(String, (Int) -> Range<Int>)] = [
            ("in order", { i in (i * 7)..<(i * 7 + 7) }),
            ("backwards", { i in (400 - i * 5)..<(403 - i * 5) }),
            ("every other", { i in (i * 4)..<(i * 4 + 2) }),
            ("random", { _ in let a = Int.random(in: 0..<500, using: &rng); return a..<(a + Int.random(in: 1...30, using: &rng)) }),
        ]
        for (label, next) in orders {
            for _ in 0..<20 {
                var list: [Range<Int>] = []
                var map = [Bool](repeating: false, count: 600)
                for i in 0..<60 {
                    let r = next(i)
                    list.insertMerging(r)
                    for b in r { map[b] = true }
                    XCTAssertEqual(list, runs(map), "\(label), after \(r)")
                }
            }
        }
    }
}
