#!/usr/bin/env python3
"""Driver of tools/bench-attach.sh: issue 18's bars through a live volumed's sandbox API (host-path delivery).

  bench-attach.py run WORKDIR      (settings from the environment, see tools/bench-attach.sh)

It starts volumed itself (so that it can kill -9 and restart it), writes every mount server's pid to
WORKDIR/mount-pids (the shell wrapper's cleanup kills those still alive) and prints the results as
markdown tables on stdout, its progress on stderr. Standard library only.
"""
import json, os, signal, statistics, subprocess, sys, threading, time, urllib.error, urllib.request

ENV = os.environ
VOLUMED = ENV["VOLUMED"]
GEN = [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench-import.py")]
BIG_MIB = int(ENV.get("BIG_MIB", "1024"))
SMALL_FILES = int(ENV.get("SMALL_FILES", "100000"))
FANOUT_MIB = int(ENV.get("FANOUT_MIB", "500"))
FANOUT = int(ENV.get("FANOUT", "20"))
ATTACH_REPS = int(ENV.get("ATTACH_REPS", "10"))
UNTAR_REPS = int(ENV.get("UNTAR_REPS", "3"))
RESUME_REPS = int(ENV.get("RESUME_REPS", "10"))
RESUME_ATTACHMENTS = int(ENV.get("RESUME_ATTACHMENTS", "8"))
RECONCILE_ATTACHMENTS = int(ENV.get("RECONCILE_ATTACHMENTS", "40"))
REBOOT = ENV.get("REBOOT", "1") == "1"


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))]


class Daemon:
    def __init__(self, work):
        self.work, self.data = work, os.path.join(work, "data")
        self.proc, self.base, self.key, self.opkey = None, None, None, None
        self.mount_pids = open(os.path.join(work, "mount-pids"), "a")

    def start(self):
        addr = os.path.join(self.work, "address")
        if os.path.exists(addr):
            os.unlink(addr)
        logf = open(os.path.join(self.work, "volumed.log"), "a")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen([VOLUMED, "--data-dir", self.data, "--listen", "127.0.0.1:0", "--address-file", addr,
                                      "--gc-interval", "0"], stdout=logf, stderr=logf)
        with open(os.path.join(self.work, "volumed-pids"), "a") as f:
            f.write(f"{self.proc.pid}\n")
        while not (os.path.exists(addr) and os.path.getsize(addr) > 0):
            if self.proc.poll() is not None:
                raise SystemExit("volumed exited at start; see volumed.log")
            time.sleep(0.005)
        self.base = open(addr).read().strip()
        self.opkey = open(os.path.join(self.data, "operator.key")).read().strip()
        return t0

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill(); self.proc.wait()

    def call(self, method, path, body=None, key=None, ctype="application/json", data=None, timeout=600):
        headers = {"X-API-Key": key or self.key}
        if body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            headers["Content-Type"] = ctype
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                raw = r.read()
        except urllib.error.HTTPError as e:
            raise SystemExit(f"{method} {path}: HTTP {e.code}: {e.read()[:400]!r}")
        out = json.loads(raw) if raw else None
        self.note(out)
        return out

    def note(self, out):
        """Records the pids of the mount servers an answer names (for the wrapper's cleanup)."""
        sbs = out if isinstance(out, list) else [out]
        for sb in sbs:
            if isinstance(sb, dict):
                for a in sb.get("attachments", []) + ([sb] if "attachment_id" in sb else []):
                    pid = ((a.get("served_by") or {}).get("process") or {}).get("pid")
                    if pid:
                        self.mount_pids.write(f"{pid}\n"); self.mount_pids.flush()

    def import_volume(self, name, archive):
        with open(archive, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            req = urllib.request.Request(f"{self.base}/v1/volumes?name={name}", data=f, method="POST",
                                         headers={"X-API-Key": self.key, "Content-Type": "application/gzip",
                                                  "Content-Length": str(size)})
            with urllib.request.urlopen(req, timeout=3600) as r:
                return json.loads(r.read())["volume"]["volume_id"]


def usable(host_path, probe):
    """A stat and a 4 KiB read of a file through the mount: what a sandbox's first access does."""
    p = os.path.join(host_path, probe.lstrip("/"))
    os.stat(p)
    with open(p, "rb") as f:
        if not f.read(4096):
            raise OSError(f"{p}: empty read")


def chunk_bytes(data):
    out = subprocess.run(GEN + ["stored", data], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def rss_mib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None


def drop_caches():
    subprocess.run(["sync"])
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def main(work):
    arch = ENV.get("ARCHIVES") or os.path.join(work, "archives")   # kept between runs when ARCHIVES is given
    os.makedirs(arch, exist_ok=True)
    d = Daemon(work)
    d.start()
    log(f"volumed at {d.base}")
    k = d.call("POST", "/v1/admin/keys", {"tenant": "bench"}, key=d.opkey)
    d.key = k["key"]
    tables = []

    # --- data: each data set a Phase 1 tar.gz, imported once through the API -----------------------------
    sets = [("1MiB", "big", 1, "/logs/app.log"), (f"{BIG_MIB}MiB", "big", BIG_MIB, "/logs/app.log"),
            (f"{SMALL_FILES}files", "small", SMALL_FILES, "/d0000/f000000.txt")]
    vols = {}
    for label, kind, n, probe in sets + [("fanout", "big", FANOUT_MIB, "/logs/app.log")]:
        a = os.path.join(arch, f"{kind}-{n}.tar.gz")
        t = time.perf_counter()
        if not os.path.exists(a):
            subprocess.run(GEN + [kind, a + ".part", str(n)], check=True)
            os.rename(a + ".part", a)
        log(f"archive {label}: {os.path.getsize(a) / 1e6:.1f} MB compressed ({time.perf_counter() - t:.0f} s)")
        t = time.perf_counter()
        vid = d.import_volume(f"bench-{label.lower()}", a)
        d.call("PUT", f"/v1/admin/volumes/{vid}/cap", {"cap_bytes": 8 << 30}, key=d.opkey)
        vols[label] = (vid, a, probe)
        log(f"imported {label} as {vid} through POST /v1/volumes ({time.perf_counter() - t:.1f} s)")

    # --- attach latency beside the Phase 1 way, rounds alternating which data set goes first ----------------
    lat = {label: [] for label, *_ in sets}
    untar = {label: [] for label, *_ in sets}
    untar_dir = os.path.join(work, "untar")
    os.makedirs(untar_dir, exist_ok=True)
    for rep in range(max(ATTACH_REPS, UNTAR_REPS)):
        order = sets if rep % 2 == 0 else list(reversed(sets))
        for label, _, _, probe in order:
            vid, a, _ = vols[label]
            if rep < ATTACH_REPS:
                t0 = time.perf_counter()
                sb = d.call("POST", "/v1/sandboxes", {"attachments": [{"volume_id": vid, "mount_path": "/data"}]})
                att = sb["attachments"][0]
                if att["state"] != "mounted":
                    raise SystemExit(f"attach {label}: {att}")
                usable(att["host_path"], probe)
                lat[label].append(time.perf_counter() - t0)
                d.call("POST", f"/v1/sandboxes/{sb['sandbox_id']}/destroy")
            if rep < UNTAR_REPS:
                # The Phase 1 way: the blob is on this host already (no download counted), untar it
                # (no sync: the bar as tools/bench-import.sh), then the same first access.
                dest = os.path.join(untar_dir, f"{label}-{rep}")
                os.makedirs(dest)
                t0 = time.perf_counter()
                subprocess.run(["tar", "-xzf", a, "-C", dest], check=True)
                usable(dest, probe)
                untar[label].append(time.perf_counter() - t0)
        log(f"attach round {rep + 1}: " + ", ".join(f"{l} {lat[l][-1] * 1000:.0f} ms" for l in lat if len(lat[l]) > rep))
    subprocess.run(["rm", "-rf", untar_dir])
    rows = ["| data set | attach p50 (ms) | attach p95 (ms) | Phase 1 untar median (ms) | untar / attach (p50) |", "|---|---|---|---|---|"]
    for label, *_ in sets:
        p50, p95, u = pct(lat[label], .5) * 1000, pct(lat[label], .95) * 1000, statistics.median(untar[label]) * 1000
        rows.append(f"| {label} | {p50:.1f} | {p95:.1f} | {u:.0f} | {u / p50:.2f}x |")
    p50s = [pct(lat[l], .5) for l, *_ in sets]
    rows.append("")
    rows.append(f"attach samples (ms, in order): " + "; ".join(f"{l} " + " ".join(f"{x * 1000:.0f}" for x in lat[l]) for l, *_ in sets))
    rows.append(f"untar samples (ms, in order): " + "; ".join(f"{l} " + " ".join(f"{x * 1000:.0f}" for x in untar[l]) for l, *_ in sets))
    worst95 = max(pct(lat[l], .95) for l, *_ in sets) * 1000
    spread = (max(p50s) - min(p50s)) / min(p50s) * 100
    rows.append(f"bar: p50 and p95 under 100 ms ({'met' if worst95 < 100 else 'MISSED'}: worst p95 {worst95:.1f} ms); "
                f"within 20% of each other ({'met' if spread <= 20 else 'MISSED'}: p50s spread {spread:.0f}%)")
    tables.append(("Attach latency (request to a stat and a 4 KiB read through host_path)", rows))
    print_tables(tables[-1:])

    # --- fan-out: FANOUT sandboxes attach one FANOUT_MIB volume and read it all at once ------------------
    vid, _, probe = vols["fanout"]
    before = chunk_bytes(d.data)
    t0 = time.perf_counter()
    sbs = [d.call("POST", "/v1/sandboxes", {"attachments": [{"volume_id": vid, "mount_path": "/data"}]}) for _ in range(FANOUT)]
    t_attach = time.perf_counter() - t0
    after = chunk_bytes(d.data)
    paths = [sb["attachments"][0]["host_path"] for sb in sbs]
    files = []
    for root, _, names in os.walk(paths[0]):
        files += [os.path.relpath(os.path.join(root, n), paths[0]) for n in names]
    drop_caches()
    errors, total = [], [0] * FANOUT

    def read_all(i):
        try:
            for f in files:
                with open(os.path.join(paths[i], f), "rb", buffering=0) as fh:
                    while True:
                        b = fh.read(1 << 20)
                        if not b:
                            break
                        total[i] += len(b)
        except OSError as e:
            errors.append(e)
    th = [threading.Thread(target=read_all, args=(i,)) for i in range(FANOUT)]
    t0 = time.perf_counter()
    for t in th:
        t.start()
    for t in th:
        t.join()
    t_read = time.perf_counter() - t0
    pids = [sb["attachments"][0]["served_by"]["process"]["pid"] for sb in sbs]
    rss = [r for r in (rss_mib(p) for p in pids) if r is not None]
    if errors:
        raise SystemExit(f"fan-out read errors: {errors[:3]}")
    for sb in sbs:
        d.call("POST", f"/v1/sandboxes/{sb['sandbox_id']}/destroy")
    rows = ["| what | value |", "|---|---|",
            f"| sandboxes attaching one {FANOUT_MIB} MiB volume | {FANOUT} (created in {t_attach:.2f} s) |",
            f"| stored chunk bytes before / after the attaches | {before['bytes']} / {after['bytes']} (growth {after['bytes'] - before['bytes']}; bar 0: {'met' if after['bytes'] == before['bytes'] else 'MISSED'}) |",
            f"| all {FANOUT} read the whole volume at once (page cache dropped first) | {sum(total) / 1e6:.0f} MB in {t_read:.1f} s: **{sum(total) / t_read / 1e6:.0f} MB/s aggregate** ({sum(total) / t_read / 1e6 / FANOUT:.1f} MB/s each) |",
            f"| RSS of each mount server after the reads | mean {statistics.mean(rss):.1f} MiB, max {max(rss):.1f} MiB (sum {sum(rss):.0f} MiB for {len(rss)}) |"]
    tables.append((f"Fan-out: {FANOUT} sandboxes, one {FANOUT_MIB} MiB volume", rows))
    print_tables(tables[-1:])

    # --- small volumes for resume and reconcile: each with one 1 MiB file ------------------------------------
    small_vids = []
    blob = os.urandom(1 << 20)
    for i in range(8):
        v = d.call("POST", "/v1/volumes", {"name": f"rs-{i}"})["volume_id"]
        req = urllib.request.Request(f"{d.base}/v1/volumes/{v}/files/content?path=/f.bin", data=blob, method="PUT",
                                     headers={"X-API-Key": d.key, "Content-Type": "application/octet-stream"})
        urllib.request.urlopen(req).read()
        small_vids.append(v)

    def intents(n):
        return [{"volume_id": small_vids[i % 8], "mount_path": f"/mnt/v{i}"} for i in range(n)]

    # --- resume with RESUME_ATTACHMENTS attachments -------------------------------------------------------
    sb = d.call("POST", "/v1/sandboxes", {"attachments": intents(RESUME_ATTACHMENTS)})
    sid = sb["sandbox_id"]
    res = []
    for rep in range(RESUME_REPS):
        d.call("POST", f"/v1/sandboxes/{sid}/pause")
        t0 = time.perf_counter()
        sb = d.call("POST", f"/v1/sandboxes/{sid}/resume")
        bad = [a for a in sb["attachments"] if a["state"] != "mounted"]
        if bad:
            raise SystemExit(f"resume: {bad}")
        for a in sb["attachments"]:
            usable(a["host_path"], "/f.bin")
        res.append(time.perf_counter() - t0)
    d.call("POST", f"/v1/sandboxes/{sid}/destroy")
    p50, p95 = pct(res, .5) * 1000, pct(res, .95) * 1000
    rows = ["| what | p50 (ms) | p95 (ms) | max (ms) | bar |", "|---|---|---|---|---|",
            f"| resume request until all {RESUME_ATTACHMENTS} attachments readable ({RESUME_REPS} pause/resume cycles) | {p50:.0f} | {p95:.0f} | {max(res) * 1000:.0f} | within 200 ms: {'met' if p95 < 200 else ('met at p50, MISSED at p95' if p50 < 200 else 'MISSED')} |",
            "", "samples (ms, in order): " + " ".join(f"{x * 1000:.0f}" for x in res)]
    tables.append((f"Resume with {RESUME_ATTACHMENTS} attachments", rows))
    print_tables(tables[-1:])

    # --- reconcile after kill -9 with RECONCILE_ATTACHMENTS attachments, readers reading throughout ------
    per = 8
    sbs = []
    n = RECONCILE_ATTACHMENTS
    while n > 0:
        sbs.append(d.call("POST", "/v1/sandboxes", {"attachments": intents(min(per, n))}))
        n -= per
    atts = [a for sb in sbs for a in sb["attachments"]]
    assert all(a["state"] == "mounted" for a in atts)
    stop = threading.Event()
    rerr, rcount = [], [0] * len(atts)

    def reader(i):
        p = os.path.join(atts[i]["host_path"], "f.bin")
        while not stop.is_set():
            try:
                with open(p, "rb") as f:
                    if len(f.read()) != len(blob):
                        rerr.append(f"{p}: short read")
                rcount[i] += 1
            except OSError as e:
                rerr.append(f"{p}: {e}")
            time.sleep(0.01)
    th = [threading.Thread(target=reader, args=(i,)) for i in range(len(atts))]
    for t in th:
        t.start()
    time.sleep(2)
    before_reads = sum(rcount)
    log(f"reconcile: {len(atts)} attachments in {len(sbs)} sandboxes, readers running; kill -9 of volumed {d.proc.pid}")
    d.kill9()
    time.sleep(1)
    t0 = d.start()
    t_listen = time.perf_counter() - t0

    def all_mounted():
        ok = 0
        for sb in sbs:
            for a in d.call("GET", f"/v1/sandboxes/{sb['sandbox_id']}/attachments"):
                if a["state"] == "mounted":
                    usable(a["host_path"], "/f.bin")
                    ok += 1
        return ok
    while all_mounted() < len(atts):
        if time.perf_counter() - t0 > 120:
            raise SystemExit("reconcile: not all mounted after 120 s")
        time.sleep(0.05)
    t_all = time.perf_counter() - t0
    time.sleep(2)
    stop.set()
    for t in th:
        t.join()
    after_reads = sum(rcount)
    recon = [l for l in open(os.path.join(work, "volumed.log")) if "reconciled" in l]
    rows = ["| what | value | bar |", "|---|---|---|",
            f"| restart (process start) until listening | {t_listen * 1000:.0f} ms | |",
            f"| restart until all {len(atts)} attachments `mounted` and readable | {t_all * 1000:.0f} ms | within 5 s: {'met' if t_all < 5 else 'MISSED'} |",
            f"| I/O errors seen by the {len(atts)} readers through the kill and restart | {len(rerr)} ({after_reads} whole-file reads, {after_reads - before_reads} after the kill) | 0: {'met' if not rerr else 'MISSED'} |",
            f"| volumed's log | {recon[-1].strip()[:200] if recon else '-'} | |"]
    if rerr:
        rows.append("first errors: " + "; ".join(rerr[:3]))

    if REBOOT:
        # A host reboot as far as the mounts go: volumed and every mount server killed, every mount gone.
        cur = [a for sb in sbs for a in d.call("GET", f"/v1/sandboxes/{sb['sandbox_id']}/attachments")]
        d.kill9()
        servers = {a["served_by"]["process"]["pid"] for a in cur}
        for pid in servers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for a in atts:
            subprocess.run(["fusermount3", "-uz", a["host_path"]], capture_output=True)
        time.sleep(1)
        t0 = d.start()
        while all_mounted() < len(atts):
            if time.perf_counter() - t0 > 300:
                raise SystemExit("reboot: not all mounted after 300 s")
            time.sleep(0.05)
        t_reboot = time.perf_counter() - t0
        recon = [l for l in open(os.path.join(work, "volumed.log")) if "reconciled" in l]
        rows.insert(4, f"| (a reboot: volumed, every mount server and every mount gone) restart until all {len(atts)} mounted again | {t_reboot * 1000:.0f} ms | within 5 s: {'met' if t_reboot < 5 else 'MISSED'} |")
        rows.append(f"after the reboot, volumed's log: {recon[-1].strip()[:200] if recon else '-'}")
    for sb in sbs:
        d.call("POST", f"/v1/sandboxes/{sb['sandbox_id']}/destroy")
    tables.append((f"Reconcile after kill -9 of volumed with {len(atts)} attachments", rows))
    print_tables(tables[-1:])
    d.stop()


def print_tables(tables):
    for title, rows in tables:
        print(f"\n### {title}\n")
        print("\n".join(rows))
        sys.stdout.flush()


if __name__ == "__main__":
    if sys.argv[1:2] != ["run"]:
        raise SystemExit(__doc__)
    main(sys.argv[2])
