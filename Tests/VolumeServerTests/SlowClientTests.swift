// Slow and many clients: idle connections are closed after --idle-timeout, and 1,000 concurrent connections all get correct answers.
import Foundation
import XCTest

final class SlowClientTests: XCTestCase {
    /// Opens connections that stay silent, send half a request head, or finish one request and then idle;
    /// prints, for each, "closed" when the daemon closed it within argv[3] seconds, else "open".
    static let idle = """
    import socket, sys, time
    host, port, wait, key = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    silent = socket.create_connection((host, port))
    partial = socket.create_connection((host, port))
    partial.sendall(b"GET /v1/volumes HTTP/1.1\\r\\nHost: x\\r\\n")
    after = socket.create_connection((host, port))
    after.sendall(("GET /v1/volumes HTTP/1.1\\r\\nHost: x\\r\\nX-API-Key: " + key + "\\r\\n\\r\\n").encode())
    def closed(s):
        s.settimeout(wait)
        try:
            while True:
                c = s.recv(65536)
                if not c: return "closed"
        except socket.timeout:
            return "open"
        except ConnectionResetError:
            return "closed"
    for s in (silent, partial, after):
        print(closed(s))
    """

    func testIdleConnectionsAreClosedAfterTheIdleTimeout() throws {
        let d = try Daemon(arguments: ["--idle-timeout", "1"])
        defer { d.stop() }
        let key = try d.tenantKey("acme")
        // Generous: the daemon must close each within 30 s of a 1 s timeout (a loaded machine is slow, not wrong).
        let r = try d.python(Self.idle, ["30", key])
        XCTAssertEqual(r.stdout.split(separator: "\n"), ["closed", "closed", "closed"],
                       "silent, half a head, after one answer: \(r.stdout)\(r.stderr)")
        // And a fresh connection is still served.
        XCTAssertEqual(try d.get("/v1/volumes", key: key).status, 200)
    }

    /// Raises RLIMIT_NOFILE, opens argv[5] connections at once, sends one request on each (a stat of a file
    /// whose expected size is argv[6]), and prints how many got the right answer, then any wrong ones.
    static let many = """
    import resource, socket, sys, json, selectors
    host, port, key, path, n, size = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, n + 256)), hard))
    socks = []
    for i in range(n):
        s = socket.create_connection((host, port), timeout=120)
        socks.append(s)
    # Every connection is open before any request is sent: the daemon holds n at once.
    for i, s in enumerate(socks):
        req = "GET " + path + "&i=" + str(i) + " HTTP/1.1\\r\\nHost: x\\r\\nX-API-Key: " + key + "\\r\\nConnection: close\\r\\n\\r\\n"
        s.sendall(req.encode())
    sel = selectors.DefaultSelector()
    bufs = {}
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        bufs[s] = b""
    pending = len(socks)
    import time
    deadline = time.time() + 300
    while pending and time.time() < deadline:
        for k, _ in sel.select(timeout=5):
            s = k.fileobj
            try:
                c = s.recv(65536)
            except ConnectionResetError:
                c = b""
            if c:
                bufs[s] += c
            else:
                sel.unregister(s); s.close(); pending -= 1
    good, bad = 0, []
    for s in socks:
        b = bufs[s]
        head, _, body = b.partition(b"\\r\\n\\r\\n")
        try:
            ok = head.startswith(b"HTTP/1.1 200") and json.loads(body)["size"] == size
        except Exception:
            ok = False
        if ok: good += 1
        else: bad.append(b[:200])
    print(good)
    for b in bad[:5]: print(b)
    """

    func testAThousandConcurrentConnectionsAllGetCorrectAnswers() throws {
        let d = try Daemon()
        defer { d.stop() }
        let key = try d.tenantKey("acme")
        let vol = try d.createVolume("many", key: key)
        try d.put(vol, "/f.bin", Data(repeating: 5, count: 12_345), key: key)
        let r = try d.python(Self.many, [key, "/v1/volumes/\(vol)/files/stat?path=/f.bin", "1000", "12345"])
        let lines = r.stdout.split(separator: "\n")
        XCTAssertEqual(lines.first, "1000", "correct answers of 1000; wrong ones: \(lines.dropFirst())\n\(r.stderr)\n\(d.log().suffix(2000))")
        XCTAssertEqual(try d.get("/healthz", key: nil).status, 200)
    }
}
