#!/usr/bin/env python3
"""HTTP load driver for tools/bench-http.sh (standard library only).

  small KIND BASE PREFIX N CONC [KEY]      PUT, then GET, then stat N files of SMALL_BYTES (4 KiB) with CONC
                                           connections in flight; prints "small_put|small_get|small_stat<TAB>ops/s"
  floor NAME BASE PATH N CONC [KEY]         GET PATH N times with CONC connections in flight; prints "NAME<TAB>ops/s"
  statload KIND BASE PREFIX N CONC SECONDS [KEY]
                                           stat the N files (already there) round robin over CONC connections
                                           for SECONDS; prints stat_p50_ms, stat_p99_ms, stat_load_rate
  rss OUT PID...                           sample VmRSS of the PIDs and their children every 50 ms until
                                           killed; keeps the peak sum (MiB) in OUT, from the first sample on
  report RESULTS TARGETS                   the results table (medians of the rounds, ratios volumed/peer)

KIND says how a target names a file and a stat:
  nginx, seaweedfs, juicefs   PUT/GET BASE/PREFIX/fNNNNN, stat = HEAD of it (WebDAV / filer: the file's headers)
  volumed                     PUT/GET BASE/v1/volumes/VOL/files/content?path=/PREFIX/fNNNNN, stat =
                              GET .../files/stat?path=... (PREFIX is "VOL/dir"; KEY is the tenant key)

The client is one thread driving CONC keep-alive connections with selectors (no thread per connection), so
that on a 2-core machine the client costs as little CPU as it can; its ceiling is what the nginx row shows.
"""
import collections, os, selectors, signal, socket, statistics, sys, time, urllib.parse

SMALL_BYTES = int(os.environ.get("SMALL_BYTES", "4096"))


class Target:
    def __init__(self, kind, base, prefix, key=None):
        u = urllib.parse.urlsplit(base)
        self.kind, self.host, self.port, self.key = kind, u.hostname, u.port, key
        if kind == "volumed":
            self.vol, _, d = prefix.partition("/")
            self.dir = "/" + d
        else:
            self.dir = "/" + prefix.strip("/")

    def _req(self, method, target, body=b""):
        h = [f"{method} {target} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        if self.key:
            h.append(f"X-API-Key: {self.key}")
        if method == "PUT":
            h.append(f"Content-Length: {len(body)}")
            h.append("Content-Type: application/octet-stream")
        return ("\r\n".join(h) + "\r\n\r\n").encode() + body

    def _path(self, i, route):
        """File i's URL path: the file itself on a peer, the files API's `route` on volumed."""
        name = f"{self.dir}/f{i:06d}"
        if self.kind == "volumed":
            return f"/v1/volumes/{self.vol}/files/{route}?path={urllib.parse.quote(name, safe='/')}"
        return name

    def put(self, i, body):
        return self._req("PUT", self._path(i, "content"), body), False

    def get(self, i):
        return self._req("GET", self._path(i, "content")), False

    def stat(self, i):
        # volumed answers a JSON entry; a peer's HEAD answers the file's headers.
        if self.kind == "volumed":
            return self._req("GET", self._path(i, "stat")), False
        return self._req("HEAD", self._path(i, "stat")), True


class Conn:
    """One keep-alive connection: sends a request, parses one response (Content-Length, chunked, HEAD)."""
    def __init__(self, host, port):
        self.addr = (host, port)
        self.open()

    def open(self):
        self.sock = socket.create_connection(self.addr)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.buf = b""

    def send(self, data, head):
        self.head, self.status, self.need, self.chunked, self.close_after = head, None, None, False, False
        self.sock.setblocking(True)
        self.sock.sendall(data)
        self.sock.setblocking(False)
        self.t0 = time.perf_counter()

    def feed(self):
        """Reads what is there; returns True once the response is complete."""
        try:
            data = self.sock.recv(262144)
        except BlockingIOError:
            return False
        if not data:
            raise ConnectionError("connection closed by the server")
        self.buf += data
        return self.parse()

    def parse(self):
        if self.status is None:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return False
            lines = self.buf[:end].decode("latin-1").split("\r\n")
            self.status = int(lines[0].split()[1])
            hdrs = {}
            for line in lines[1:]:
                k, _, v = line.partition(":")
                hdrs[k.strip().lower()] = v.strip()
            self.buf = self.buf[end + 4:]
            self.close_after = hdrs.get("connection", "").lower() == "close"
            if self.head or self.status in (204, 304) or 100 <= self.status < 200:
                self.need = 0
            elif hdrs.get("transfer-encoding", "").lower() == "chunked":
                self.chunked = True
            else:
                self.need = int(hdrs.get("content-length", "0"))
        if self.chunked:
            while True:
                end = self.buf.find(b"\r\n")
                if end < 0:
                    return False
                size = int(self.buf[:end].split(b";")[0], 16)
                if len(self.buf) < end + 2 + size + 2:
                    return False
                self.buf = self.buf[end + 2 + size + 2:]
                if size == 0:
                    return True
        if len(self.buf) < self.need:
            return False
        self.buf = self.buf[self.need:]
        return True


def run(target, requests, conc, deadline=None):
    """Sends the requests (a list of (bytes, head) or a callable index -> (bytes, head)) over conc
    connections; returns (seconds, latencies in s, non-2xx count, first bad status)."""
    sel = selectors.DefaultSelector()
    conns = [Conn(target.host, target.port) for _ in range(conc)]
    total = len(requests) if isinstance(requests, list) else None
    nxt = 0
    lat = []
    bad, first_bad = 0, None

    def start(c):
        nonlocal nxt
        if deadline is not None:
            if time.perf_counter() >= deadline:
                return False
            data, head = requests(nxt)
        else:
            if nxt >= total:
                return False
            data, head = requests[nxt]
        nxt += 1
        c.send(data, head)
        return True

    t0 = time.perf_counter()
    busy = 0
    for c in conns:
        if start(c):
            sel.register(c.sock, selectors.EVENT_READ, c)
            busy += 1
    while busy:
        events = sel.select(timeout=60)
        if not events:
            raise TimeoutError(f"no answer for 60 s with {busy} requests in flight")
        for key, _ in events:
            c = key.data
            if not c.feed():
                continue
            lat.append(time.perf_counter() - c.t0)
            if not (200 <= c.status < 300):
                bad += 1
                first_bad = first_bad or c.status
            if c.close_after:
                sel.unregister(c.sock); c.sock.close(); c.open(); sel.register(c.sock, selectors.EVENT_READ, c)
            if not start(c):
                sel.unregister(c.sock)
                busy -= 1
    dt = time.perf_counter() - t0
    for c in conns:
        c.sock.close()
    return dt, lat, bad, first_bad


def check(name, bad, first_bad):
    if bad:
        print(f"bench-http.py: {name}: {bad} answers were not 2xx (first: {first_bad})", file=sys.stderr)
        sys.exit(1)


def small(kind, base, prefix, n, conc, key=None):
    t = Target(kind, base, prefix, key)
    n, conc = int(n), int(conc)
    payloads = [os.urandom(SMALL_BYTES) for _ in range(16)]
    for name, reqs in (("small_put", [t.put(i, payloads[i % 16][:-8] + i.to_bytes(8, "big")) for i in range(n)]),
                       ("small_get", [t.get(i) for i in range(n)]),
                       ("small_stat", [t.stat(i) for i in range(n)])):
        dt, lat, bad, fb = run(t, reqs, conc)
        check(name, bad, fb)
        print(f"{name}\t{n / dt:.0f}\tops/s")
        sys.stdout.flush()


def floor(name, base, path, n, conc, key=None):
    """GET path n times over conc connections (the lightest request a server answers): prints name, ops/s."""
    t = Target("nginx", base, "/", key)
    n, conc = int(n), int(conc)
    dt, lat, bad, fb = run(t, [(t._req("GET", path), False)] * n, conc)
    check(name, bad, fb)
    print(f"{name}\t{n / dt:.0f}\tops/s")


def statload(kind, base, prefix, n, conc, seconds, key=None):
    t = Target(kind, base, prefix, key)
    n, conc = int(n), int(conc)
    reqs = [t.stat(i) for i in range(n)]
    dt, lat, bad, fb = run(t, lambda i: reqs[i % n], conc, deadline=time.perf_counter() + float(seconds))
    check("statload", bad, fb)
    lat.sort()
    q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000
    print(f"stat64_p50\t{q(0.50):.2f}\tms")
    print(f"stat64_p99\t{q(0.99):.2f}\tms")
    print(f"stat64_rate\t{len(lat) / dt:.0f}\tops/s")


def tree(pids):
    """The PIDs and all their descendants."""
    kids = collections.defaultdict(list)
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                kids[ppid].append(int(d))
            except OSError:
                pass
    out, todo = set(), list(pids)
    while todo:
        p = todo.pop()
        if p not in out:
            out.add(p)
            todo.extend(kids.get(p, []))
    return out


def rss(out, *pids):
    pids = [int(p) for p in pids]
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    peak, members, last_tree, first = 0, set(pids), 0.0, True
    while not stop:
        now = time.monotonic()
        if now - last_tree > 1:
            members, last_tree = tree(pids), now
        total = 0
        for p in members:
            try:
                with open(f"/proc/{p}/status") as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1])
            except OSError:
                pass
        if total > peak or first:
            peak, first = max(peak, total), False
            with open(out + ".tmp", "w") as f:
                f.write(f"{peak / 1024:.0f}\n")
            os.rename(out + ".tmp", out)   # the file exists from the first sample on: rss_start waits for it
        time.sleep(0.05)


def report(results, targets):
    targets = targets.split()
    samples, units = collections.OrderedDict(), {}
    for line in open(results):
        w, t, v, u, r = line.rstrip("\n").split("\t")
        samples.setdefault(w, {}).setdefault(t, []).append(float(v))
        units[w] = u
    peers = [t for t in targets if t != "volumed"]
    # higher is better, except latencies and memory
    lower_better = {"stat64_p50", "stat64_p99", "rss_upload8", "rss_download8"}
    hdr = ["workload", "unit"] + targets + [f"vol/{p}" for p in peers] + ["bar", "verdict"]
    print("| " + " | ".join(hdr) + " |")
    print("|" + "---|" * len(hdr))
    bars = {"big_upload": ("seaweedfs juicefs", 1.0, "nginx", 0.5), "big_download": ("seaweedfs juicefs", 1.0, "nginx", 0.5),
            "small_put": ("seaweedfs juicefs", 1.0, None, None), "small_get": ("seaweedfs juicefs", 1.0, None, None),
            "small_stat": ("seaweedfs juicefs", 1.0, None, None)}
    for w, ts in samples.items():
        med = {t: statistics.median(v) for t, v in ts.items()}
        fmt = (lambda x: "%.2f" % x) if units[w] == "ms" else (lambda x: "%.0f" % x)
        cells = [w, units[w]] + [fmt(med[t]) if t in med else "-" for t in targets]
        ours = med.get("volumed")
        for p in peers:
            cells.append("%.2f" % (ours / med[p]) if ours and med.get(p) else "-")
        bar, verdict = "", ""
        if w in bars and ours and any(med.get(p) for p in bars[w][0].split()):
            main, r1, other, r2 = bars[w]
            ok = all(ours / med[p] >= r1 for p in main.split() if med.get(p))
            bar = " and ".join(f">= {r1}x {p}" for p in main.split())
            if other and med.get(other):
                ok = ok and ours / med[other] >= r2
                bar += f", >= {r2}x {other}"
            verdict = "met" if ok else "MISSED"
        elif w.startswith("rss_") and ours:
            bar, verdict = "volumed < 200 MiB", "met" if max(ts["volumed"]) < 200 else "MISSED"
        elif w.startswith("stat64") and ours:
            bar = "reported"
        elif w.startswith("floor_") and ours:
            bar = "ceiling, reported"
        cells += [bar, verdict]
        print("| " + " | ".join(cells) + " |")
    print("\nratios are volumed / peer: above 1 is better for volumed in MB/s and ops/s rows, below 1 in ms and MiB rows.")
    print("\nevery round's values, in order (the table shows the median; rss rows: the peak of each round):")
    for w, ts in samples.items():
        print(f"  {w}: " + "; ".join(f"{t} " + " ".join(("%.2f" if units[w] == 'ms' else "%.0f") % v for v in ts[t]) for t in targets if t in ts))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"small": small, "statload": statload, "floor": floor, "rss": rss, "report": report}[cmd](*args)
