// The routes the router serves (method and path pattern), so a known path with another method is 405 with Allow, not 404.
import Foundation
import Hummingbird

/// Filled once by `VolumeServer.router()` after every route is registered; read by the error middleware.
final class RouteTable: @unchecked Sendable {
    private let lock = NSLock()
    private var routes: [(method: String, parts: [String])] = []

    /// Records the router's routes (Hummingbird's `Router.routes`: `{name}` captures, `*` and `**` wildcards).
    func record<Context>(_ router: Router<Context>) {
        let list = router.routes.map { (method: $0.method.rawValue, parts: Self.split($0.path.description)) }
        lock.withLock { routes = list }
    }

    /// The methods some route serves at `path`, sorted; empty when no route has this path.
    func methods(at path: String) -> [String] {
        let segments = Self.split(path)
        let all = lock.withLock { routes }
        return Set(all.filter { Self.matches($0.parts, segments) }.map(\.method)).sorted()
    }

    static func split(_ path: String) -> [String] { path.split(separator: "/").map(String.init) }

    static func matches(_ pattern: [String], _ segments: [String]) -> Bool {
        var i = 0
        for (n, p) in pattern.enumerated() {
            if p == "**" { return true }
            guard n < segments.count else { return false }
            if !(p == "*" || p.contains("{") || p == segments[n]) { return false }
            i = n + 1
        }
        return i == segments.count
    }
}
