// Real programs on a mount: git, tar, python3 venv + pip, sqlite3 in WAL mode, cp -a, rsync -a and
// fio verify jobs. Each must succeed and leave fsck clean.
import Foundation
import VolumeCore
import VolumeFUSE
import VolumeTestSupport
import XCTest

final class ProgramTests: MountTestCase {
    /// Runs `body` in a fresh mounted volume, then checks fsck.
    private func onMount(cap: Int64 = 4 << 30, _ body: (String) throws -> Void) throws {
        let ts = try TestStore(cap: cap, commitWindow: StoreOptions.mountCommitWindow)
        defer { ts.remove() }
        try withMount(ts.volume) { m in try body(m.mountpoint) }
        assertFsckClean(ts)
    }

    private func requireTool(_ name: String) throws {
        let r = try sh("command -v \(name)", check: false)
        try XCTSkipIf(r.status != 0, "\(name) is not installed")
    }

    /// A source tree: this package's sources plus generated files in nested directories.
    private func makeSourceTree(_ dir: String) throws {
        let pkg = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        try sh("mkdir -p \(q(dir)) && cp -r \(q(pkg + "/Sources")) \(q(pkg + "/Tests")) \(q(dir))/")
        try sh("""
            cd \(q(dir)) && mkdir -p gen && for i in $(seq 1 40); do mkdir -p gen/d$i/e; \
            for j in $(seq 1 12); do head -c $((i * j * 37)) /dev/urandom | base64 > gen/d$i/e/f$j.txt; done; done && \
            ln -s Sources link-to-sources && chmod 700 gen/d1 && ln gen/d2/e/f1.txt hardlink.txt && \
            touch -d '2001-02-03 04:05:06' gen/d3/e/f2.txt
            """)
    }

    func testGitInitAddCommitClone() throws {
        try requireTool("git")
        try onMount { mnt in
            try makeSourceTree(mnt + "/repo")
            let git = "git -c user.email=t@t -c user.name=t -c init.defaultBranch=main"
            try sh("\(git) init -q && \(git) add -A && \(git) commit -qm first", cwd: mnt + "/repo")
            try sh("echo change >> Sources/VolumeFUSE/FUSEMount.swift && \(git) commit -qam second && \(git) gc -q", cwd: mnt + "/repo")
            try sh("\(git) clone -q repo clone", cwd: mnt)
            XCTAssertEqual(try sh("\(git) log --oneline | wc -l", cwd: mnt + "/clone").stdout.trimmingCharacters(in: .whitespacesAndNewlines), "2")
            try sh("\(git) fsck --strict --no-progress && \(git) status --porcelain | (! grep .)", cwd: mnt + "/clone")
            try sh("diff -r --exclude=.git repo clone", cwd: mnt)
        }
    }

    func testTarExtractAndCreate() throws {
        let src = try TemporaryDirectory("src")
        defer { src.remove() }
        try makeSourceTree(src.path + "/tree")
        try sh("tar -C \(q(src.path)) -cf \(q(src.path))/tree.tar tree")
        try onMount { mnt in
            try sh("tar -C \(q(mnt)) -xpf \(q(src.path))/tree.tar")
            try sh("diff -r \(q(src.path))/tree \(q(mnt))/tree")
            XCTAssertEqual(try sh("stat -c %a \(q(mnt))/tree/gen/d1").stdout, "700\n")
            XCTAssertEqual(try sh("stat -c %Y \(q(mnt))/tree/gen/d3/e/f2.txt").stdout,
                           try sh("stat -c %Y \(q(src.path))/tree/gen/d3/e/f2.txt").stdout)
            XCTAssertEqual(try sh("stat -c %h \(q(mnt))/tree/hardlink.txt").stdout, "2\n")
            // And back out again through tar -c.
            try sh("tar -C \(q(mnt)) -cf \(q(mnt))/again.tar tree && mkdir \(q(src.path))/out && tar -C \(q(src.path))/out -xf \(q(mnt))/again.tar")
            try sh("diff -r \(q(src.path))/tree \(q(src.path))/out/tree")
        }
    }

    func testPythonVenvAndPipInstallOfALocalWheel() throws {
        try requireTool("python3")
        try onMount { mnt in
            // A tiny wheel built here: no network, no build tools.
            try sh("""
                python3 - <<'EOF'
                import zipfile, hashlib, base64
                files = {
                    "hellopkg/__init__.py": "def hello():\\n    return 'hello from a wheel'\\n",
                    "hellopkg-1.0.dist-info/METADATA": "Metadata-Version: 2.1\\nName: hellopkg\\nVersion: 1.0\\n",
                    "hellopkg-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
                }
                record = []
                with zipfile.ZipFile("hellopkg-1.0-py3-none-any.whl", "w") as z:
                    for name, text in files.items():
                        data = text.encode()
                        z.writestr(name, data)
                        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
                        record.append(f"{name},sha256={digest},{len(data)}")
                    record.append("hellopkg-1.0.dist-info/RECORD,,")
                    z.writestr("hellopkg-1.0.dist-info/RECORD", "\\n".join(record) + "\\n")
                EOF
                """, cwd: mnt)
            try sh("python3 -m venv venv", cwd: mnt)
            try sh("venv/bin/python -m pip install -q --no-index --no-deps --disable-pip-version-check ./hellopkg-1.0-py3-none-any.whl",
                   cwd: mnt, env: ["PIP_NO_CACHE_DIR": "1"])
            let out = try sh("venv/bin/python -c 'import hellopkg; print(hellopkg.hello())'", cwd: mnt).stdout
            XCTAssertEqual(out, "hello from a wheel\n")
            try sh("venv/bin/python -m pip uninstall -q -y hellopkg", cwd: mnt)
        }
    }

    func testSqliteWithWAL() throws {
        try requireTool("sqlite3")
        try onMount { mnt in
            let script = """
                PRAGMA journal_mode=WAL;
                CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);
                BEGIN;
                WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
                INSERT INTO t (v) SELECT hex(randomblob(40)) FROM n;
                COMMIT;
                UPDATE t SET v = 'x' WHERE id % 7 = 0;
                DELETE FROM t WHERE id % 11 = 0;
                PRAGMA wal_checkpoint(TRUNCATE);
                INSERT INTO t (v) VALUES ('after checkpoint');
                """
            try sh("sqlite3 db.sqlite <<'EOF'\n\(script)\nEOF", cwd: mnt)
            XCTAssertEqual(try sh("sqlite3 db.sqlite 'PRAGMA journal_mode; PRAGMA integrity_check; SELECT count(*) FROM t;'", cwd: mnt).stdout,
                           "wal\nok\n18183\n")
            // Two processes at once: a writer and a reader.
            try sh("""
                (for i in $(seq 1 50); do sqlite3 -cmd '.timeout 10000' db.sqlite "INSERT INTO t (v) VALUES ('w$i');" || exit 1; done) &
                w=$!
                for i in $(seq 1 50); do sqlite3 -cmd '.timeout 10000' db.sqlite 'SELECT count(*) FROM t;' > /dev/null || exit 1; done
                wait $w
                """, cwd: mnt)
            XCTAssertEqual(try sh("sqlite3 db.sqlite 'PRAGMA integrity_check; SELECT count(*) FROM t;'", cwd: mnt).stdout, "ok\n18233\n")
        }
    }

    func testCpAAndRsyncA() throws {
        try requireTool("rsync")
        let src = try TemporaryDirectory("src")
        defer { src.remove() }
        try makeSourceTree(src.path + "/tree")
        try sh("setfattr -n user.tag -v blue \(q(src.path))/tree/hardlink.txt 2>/dev/null || true")
        try onMount { mnt in
            try sh("cp -a \(q(src.path))/tree \(q(mnt))/cp")
            try sh("diff -r \(q(src.path))/tree \(q(mnt))/cp")
            XCTAssertEqual(try sh("stat -c '%a %Y %h' \(q(mnt))/cp/gen/d1 \(q(mnt))/cp/gen/d3/e/f2.txt \(q(mnt))/cp/hardlink.txt").stdout,
                           try sh("stat -c '%a %Y %h' \(q(src.path))/tree/gen/d1 \(q(src.path))/tree/gen/d3/e/f2.txt \(q(src.path))/tree/hardlink.txt").stdout)
            // A copy within the mount, then rsync in and a second rsync that finds nothing to do.
            try sh("cp -a \(q(mnt))/cp \(q(mnt))/cp2 && diff -r \(q(mnt))/cp \(q(mnt))/cp2")
            try sh("rsync -aHX \(q(src.path))/tree/ \(q(mnt))/rs/")
            try sh("diff -r \(q(src.path))/tree \(q(mnt))/rs")
            let again = try sh("rsync -aHXi \(q(src.path))/tree/ \(q(mnt))/rs/").stdout
            XCTAssertEqual(again, "", "a second rsync found differences")
            try sh("echo more >> \(q(src.path))/tree/gen/d5/e/f3.txt && rsync -aHX --delete \(q(src.path))/tree/ \(q(mnt))/rs/ && diff -r \(q(src.path))/tree \(q(mnt))/rs")
        }
    }

    func testFioVerifyJobs() throws {
        try requireTool("fio")
        try onMount { mnt in
            let common = "--directory=\(q(mnt)) --ioengine=psync --verify=crc32c --verify_fatal=1 --do_verify=1 --verify_state_save=0"
            try sh("fio --name=seq \(common) --rw=write --bs=1M --size=64M")
            try sh("fio --name=rand \(common) --rw=randwrite --bs=4k --size=16M --numjobs=2")
            try sh("fio --name=mixed \(common) --rw=randrw --bs=64k --size=32M --fsync=8")
            try sh("fio --name=odd \(common) --rw=write --bs=1000 --size=3M")
        }
    }
}
