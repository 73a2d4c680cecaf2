// kill -9 of volumed during 16 parallel uploads (8 plain PUT, 8 tus): fsck clean, every 2xx upload whole, nothing partial, tus resumes.
import Foundation
import XCTest

final class UploadCrashTests: XCTestCase {
    /// Phase "load": 16 uploads in threads; once the small PUTs are answered and every tus upload has an
    /// acknowledged offset, SIGKILL the daemon's PID (given by the test, which started it). Writes what
    /// each upload was told. Phase "check" (after the restart): verifies and resumes.
    static let script = #"""
import sys, json, os, signal, threading, time, http.client, base64, hashlib
host, port, phase, key, vol, state = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
def data(i, n):
    seed = hashlib.sha256(str(i).encode()).digest()
    return (seed * (n // len(seed) + 1))[:n]
SIZES = {i: (256 << 10 if i < 4 else 6 << 20) for i in range(8)}
TUS = 3 << 20
T = {"Tus-Resumable": "1.0.0", "X-API-Key": key}
def conn(): return http.client.HTTPConnection(host, port, timeout=60)
def b64(s): return base64.b64encode(s.encode()).decode()

if phase == "load":
    pid = int(sys.argv[7])
    res = {"put": {}, "tus": {}}
    lock = threading.Lock()
    def put(i):
        body, status = data(i, SIZES[i]), None
        try:
            c = conn()
            c.putrequest("PUT", "/v1/volumes/%s/files/content?path=/crash/put%d.bin" % (vol, i))
            c.putheader("X-API-Key", key); c.putheader("Content-Type", "application/octet-stream")
            c.putheader("Content-Length", str(len(body))); c.endheaders()
            step = 64 << 10
            for o in range(0, len(body), step):
                c.send(body[o:o + step])
                if i >= 4: time.sleep(0.05)   # the large ones are still streaming at the kill
            status = c.getresponse().status
        except Exception as e:
            pass
        with lock: res["put"][i] = status
    def tus(i):
        body = data(100 + i, TUS)
        acked, url = 0, None
        try:
            c = conn()
            c.request("POST", "/v1/volumes/%s/uploads" % vol, headers=dict(T, **{"Upload-Length": str(TUS), "Upload-Metadata": "path " + b64("/crash/tus%d.bin" % i)}))
            r = c.getresponse(); r.read()
            url = r.getheader("Location")
            with lock: res["tus"][i] = {"url": url, "acked": 0}
            step = 256 << 10
            while acked < TUS:
                c.request("PATCH", url, body=body[acked:acked + step], headers=dict(T, **{"Upload-Offset": str(acked), "Content-Type": "application/offset+octet-stream"}))
                r = c.getresponse(); r.read()
                if r.status != 204: break
                acked = int(r.getheader("Upload-Offset"))
                with lock: res["tus"][i] = {"url": url, "acked": acked}
                time.sleep(0.1)
        except Exception:
            pass
    threads = [threading.Thread(target=put, args=(i,)) for i in range(8)] + [threading.Thread(target=tus, args=(i,)) for i in range(8)]
    for t in threads: t.start()
    deadline = time.time() + 120
    while time.time() < deadline:
        with lock:
            small = all(i in res["put"] for i in range(4))
            going = sum(1 for v in res["tus"].values() if v["acked"] > 0) == 8
        if small and going: break
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    for t in threads: t.join()
    res["killed_while_streaming"] = [i for i in range(4, 8) if res["put"].get(i) is None]
    json.dump(res, open(state, "w"))
    print(json.dumps(res))
else:
    res = json.load(open(state))
    problems, report = [], {"put_ok": 0, "put_absent": 0, "tus_resumed": 0}
    def get(path):
        c = conn(); c.request("GET", "/v1/volumes/%s/files/content?path=%s" % (vol, path), headers={"X-API-Key": key})
        r = c.getresponse(); return r.status, r.read()
    for si, status in res["put"].items():
        i = int(si); want = data(i, SIZES[i])
        code, got = get("/crash/put%d.bin" % i)
        if status is not None and 200 <= status < 300:
            if code != 200 or got != want: problems.append("put%d: answered %s but now %d, %d bytes" % (i, status, code, len(got)))
            else: report["put_ok"] += 1
        elif code == 200:
            if got != want: problems.append("put%d: a partial file is visible (%d bytes)" % (i, len(got)))
        elif code == 404: report["put_absent"] += 1
        else: problems.append("put%d: %d" % (i, code))
    for si, v in res["tus"].items():
        i = int(si); want = data(100 + i, TUS); url = v["url"]
        code, got = get("/crash/tus%d.bin" % i)
        if code != 404: problems.append("tus%d: visible before completion (%d)" % (i, code))
        c = conn(); c.request("HEAD", url, headers=T); r = c.getresponse(); r.read()
        if r.status != 200: problems.append("tus%d: HEAD %d after the restart" % (i, r.status)); continue
        off = int(r.getheader("Upload-Offset"))
        # The server may have synced one more PATCH whose 204 the kill swallowed; never less than acknowledged.
        if off < v["acked"] or off > min(TUS, v["acked"] + (256 << 10)):
            problems.append("tus%d: offset %d after the restart, last acknowledged %d" % (i, off, v["acked"])); continue
        c.request("PATCH", url, body=want[off:], headers=dict(T, **{"Upload-Offset": str(off), "Content-Type": "application/offset+octet-stream"}))
        r = c.getresponse(); r.read()
        if r.status != 204: problems.append("tus%d: resume PATCH %d" % (i, r.status)); continue
        code, got = get("/crash/tus%d.bin" % i)
        if code != 200 or got != want: problems.append("tus%d: %d, %d bytes after completing" % (i, code, len(got)))
        else: report["tus_resumed"] += 1
    # Nothing else under /crash (no temporary or partial names).
    c = conn(); c.request("GET", "/v1/volumes/%s/files?path=/crash" % vol, headers={"X-API-Key": key}); r = c.getresponse()
    names = sorted(e["name"] for e in json.loads(r.read()))
    allowed = set(["put%d.bin" % i for i in range(8)] + ["tus%d.bin" % i for i in range(8)])
    if not set(names) <= allowed: problems.append("unexpected names: %s" % names)
    report["problems"] = problems
    print(json.dumps(report))
"""#

    func testKill9DuringParallelUploads() throws {
        let d = try Daemon()
        defer { d.stop() }
        let key = try d.tenantKey("acme")
        let vol = try d.createVolume("crash", key: key)
        XCTAssertEqual(try d.send("POST", "/v1/volumes/\(vol)/files/mkdir", key: key, json: ["path": "/crash"]).status, 201)
        let state = d.dir.path + "/crash-state.json"

        let load = try d.python(Self.script, ["load", key, vol, state, String(d.pid)])
        XCTAssertEqual(load.status, 0, load.stderr)
        _ = d.waitForExit(seconds: 30)
        let loaded = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: state))) as? [String: Any])
        let streaming = (loaded["killed_while_streaming"] as? [Int]) ?? []
        XCTAssertFalse(streaming.isEmpty, "some plain PUTs were still streaming at the kill: \(load.stdout)")

        // The data directory after SIGKILL, before the restart: fsck clean.
        let fsck = try Daemon.runTool(try Daemon.volumectl.get().path, ["fsck", "--data-dir", d.dataDir])
        XCTAssertEqual(fsck.status, 0, fsck.stdout + fsck.stderr)

        try d.start()
        let check = try d.python(Self.script, ["check", key, vol, state])
        XCTAssertEqual(check.status, 0, check.stderr)
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(check.stdout.utf8)) as? [String: Any], check.stdout)
        XCTAssertEqual(report["problems"] as? [String], [], check.stdout)
        XCTAssertEqual(report["tus_resumed"] as? Int, 8, check.stdout)
        XCTAssertGreaterThanOrEqual(report["put_ok"] as? Int ?? 0, 4, check.stdout)
        XCTAssertEqual(d.stop(), 0)
        let after = try Daemon.runTool(try Daemon.volumectl.get().path, ["fsck", "--data-dir", d.dataDir])
        XCTAssertEqual(after.status, 0, after.stdout + after.stderr)
    }
}
