// Test helpers for the transfer routes: one HTTP exchange through Python's http.client (HEAD, PATCH, cut bodies).
import Foundation
import XCTest

extension Daemon {
    /// One request through http.client (curl waits for a body after -X HEAD). `cutAfter`: send only that
    /// many bytes of `body` (the headers still announce all of it), then close the connection.
    func raw(_ method: String, _ path: String, key: String?, headers: [String: String] = [:], body: Data = Data(),
             cutAfter: Int? = nil) throws -> HTTPResult {
        var h = headers
        if let key { h["X-API-Key"] = key }
        let spec: [String: Any] = ["method": method, "path": path, "headers": h, "body": body.base64EncodedString(), "cut": cutAfter ?? -1]
        let specFile = dir.path + "/.spec-\(UUID().uuidString.prefix(8))"
        try JSONSerialization.data(withJSONObject: spec).write(to: URL(fileURLWithPath: specFile))
        defer { try? FileManager.default.removeItem(atPath: specFile) }
        let r = try python(Self.rawScript, [specFile])
        guard r.status == 0, let data = r.stdout.data(using: .utf8),
              let o = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw HarnessError.didNotStart("python request failed: \(r.stdout) \(r.stderr)")
        }
        let hs = (o["headers"] as? [String: String]) ?? [:]
        return HTTPResult(status: o["status"] as? Int ?? 0, headers: hs, body: Data(base64Encoded: o["body"] as? String ?? "") ?? Data())
    }

    static let rawScript = #"""
import sys, json, base64, http.client, socket
host, port, spec = sys.argv[1], int(sys.argv[2]), json.load(open(sys.argv[3]))
body = base64.b64decode(spec["body"])
if spec["cut"] >= 0:
    s = socket.create_connection((host, port))
    head = "%s %s HTTP/1.1\r\nHost: x\r\n" % (spec["method"], spec["path"])
    for k, v in spec["headers"].items(): head += "%s: %s\r\n" % (k, v)
    head += "Content-Length: %d\r\n\r\n" % len(body)
    s.sendall(head.encode() + body[:spec["cut"]])
    import time; time.sleep(0.3)
    s.close()
    print(json.dumps({"status": 0, "headers": {}, "body": ""}))
    sys.exit(0)
c = http.client.HTTPConnection(host, port, timeout=120)
c.request(spec["method"], spec["path"], body=body if body or spec["method"] in ("PATCH", "PUT", "POST") else None, headers=spec["headers"])
r = c.getresponse()
data = r.read()
print(json.dumps({"status": r.status, "headers": {k.lower(): v for k, v in r.getheaders()}, "body": base64.b64encode(data).decode()}))
"""#
}
