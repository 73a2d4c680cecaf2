// The contract: Docs/openapi.yaml lists exactly the routes volumed registers, and the daemon serves its exact bytes.
import Foundation
import XCTest
import VolumeTestSupport

/// The repository's root (three levels above this file).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// `METHOD /path/{param}` pairs, upper-case methods.
struct RouteKey: Hashable, Comparable, CustomStringConvertible {
    let method: String
    let path: String
    var description: String { "\(method) \(path)" }
    static func < (a: RouteKey, b: RouteKey) -> Bool { a.description < b.description }
}

enum OpenAPIDocument {
    static var url: URL { repositoryRoot.appendingPathComponent("Docs/openapi.yaml") }

    /// The operations under `paths:`. The document keeps one layout for them (a path two spaces in, its
    /// methods four spaces in), so lines are enough; a path or method written otherwise is not seen, and the
    /// comparison with the router then fails and says which.
    static func operations(_ text: String) -> Set<RouteKey> {
        let methods: Set<String> = ["get", "put", "post", "delete", "patch", "head", "options", "trace"]
        var inPaths = false, current: String?, result: Set<RouteKey> = []
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(raw)
            if !line.hasPrefix(" "), !line.isEmpty, !line.hasPrefix("#") { inPaths = line.hasPrefix("paths:"); current = nil; continue }
            guard inPaths else { continue }
            if line.hasPrefix("  /"), !line.hasPrefix("   "), line.hasSuffix(":") {
                current = String(line.dropFirst(2).dropLast())
            } else if line.hasPrefix("    "), !line.hasPrefix("     "), let c = current {
                let word = line.dropFirst(4).prefix { $0 != ":" }
                if methods.contains(String(word)) { result.insert(RouteKey(method: word.uppercased(), path: c)) }
            }
        }
        return result
    }
}

final class ContractTests: XCTestCase {
    /// The routes the daemon registers, from `volumed --print-routes` (Hummingbird's own route list).
    func registeredRoutes() throws -> Set<RouteKey> {
        let dir = try TemporaryDirectory("routes")
        defer { dir.remove() }
        let r = try Daemon.runTool(try Daemon.binary.get().path, ["--data-dir", dir.path + "/data", "--print-routes"])
        XCTAssertEqual(r.status, 0, r.stderr)
        var routes: Set<RouteKey> = []
        for line in r.stdout.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[1].hasPrefix("/") else { continue }
            routes.insert(RouteKey(method: String(parts[0]).uppercased(), path: String(parts[1])))
        }
        return routes
    }

    func testTheDocumentListsExactlyTheRegisteredRoutes() throws {
        let registered = try registeredRoutes()
        XCTAssertGreaterThan(registered.count, 10, "volumed --print-routes listed too few routes: \(registered)")
        let documented = OpenAPIDocument.operations(try String(contentsOf: OpenAPIDocument.url, encoding: .utf8))
        let undocumented = registered.subtracting(documented).sorted()
        let unserved = documented.subtracting(registered).sorted()
        XCTAssertEqual(undocumented, [], "routes volumed serves that Docs/openapi.yaml lacks: add them to the document")
        XCTAssertEqual(unserved, [], "operations in Docs/openapi.yaml that volumed does not serve: remove them or add the route")
    }

    func testTheDaemonServesTheDocumentByteForByteWithoutAKey() throws {
        let d = try Daemon()
        defer { d.stop() }
        let r = try d.get("/openapi.yaml", key: nil)
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual(r.headers["content-type"], "application/yaml")
        XCTAssertEqual(r.body, try Data(contentsOf: OpenAPIDocument.url), "GET /openapi.yaml differs from Docs/openapi.yaml: rebuild")
    }

    func testAKnownPathWithAnotherMethodIs405WithAllowAndAnUnknownPathIs404() throws {
        let d = try Daemon()
        defer { d.stop() }
        let key = try d.tenantKey("acme")
        let vol = try d.createVolume("methods", key: key)
        for (method, path, allow) in [("TRACE", "/v1/volumes", "GET, POST"), ("PATCH", "/v1/volumes/\(vol)", "DELETE, GET"),
                                      ("POST", "/v1/volumes/\(vol)/files/content", "GET, PUT"), ("PUT", "/healthz", "GET")] {
            let r = try d.request(method, path, key: key)
            XCTAssertEqual(r.status, 405, "\(method) \(path): \(r.text)")
            XCTAssertEqual(r.errorCode, "method_not_allowed", "\(method) \(path)")
            XCTAssertEqual(r.headers["allow"], allow, "\(method) \(path)")
        }
        let none = try d.get("/v1/nothing/here", key: key)
        XCTAssertEqual(none.status, 404, none.text)
        XCTAssertEqual(none.errorCode, "not_found")
    }
}
