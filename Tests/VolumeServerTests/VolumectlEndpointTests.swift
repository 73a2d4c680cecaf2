// volumectl --endpoint: the same commands run on a data directory and against volumed print the same
// output and exit with the same codes (a table of commands, directory transfers and exports included), and
// the one command that stays local (unmount) says so (64).
import Crypto
import Foundation
import VolumeCore
import VolumeTestSupport
import XCTest

final class VolumectlEndpointTests: XCTestCase {
    /// One step of the table: arguments (with LOCAL standing for a scratch directory) and optional stdin.
    /// `compare`: a scratch subdirectory whose tree (bytes, modes, owners, file mtimes, links) must come out
    /// the same in both worlds. `prepare`: instead of a command, something done to the world's data directory.
    struct Step {
        var args: [String] = []
        var stdin: Data? = nil
        var expect: Int32 = 0
        var compare: String? = nil
        var prepare: ((String) throws -> Void)? = nil
        /// Entries the compared tree must hold (relative path: the start of its description), in both worlds.
        var has: [String: String] = [:]
        /// Run on the fresh output directory before the command, in each world.
        var setupOut: ((String) throws -> Void)? = nil
        /// Checks the command's stdout in each world: nil, or what is wrong with it.
        var check: ((String) -> String?)? = nil
    }

    /// A check of a `files ls -R --json` listing: it lists `count` entries, each owned by `uid:gid`.
    static func everyEntryOwned(by uid: Int, _ gid: Int, count: Int) -> (String) -> String? {
        { out in
            guard let entries = (try? JSONSerialization.jsonObject(with: Data(out.utf8))) as? [[String: Any]] else { return "not a JSON list: \(out)" }
            if entries.count != count { return "\(entries.count) entries, not \(count): \(out)" }
            let wrong = entries.filter { ($0["uid"] as? Int) != uid || ($0["gid"] as? Int) != gid }
            return wrong.isEmpty ? nil : "owned by others than \(uid):\(gid): \(wrong)"
        }
    }

    static func steps(_ scratch: String) -> [Step] {
        [
            Step(args: ["volume", "create", "data", "--metadata", "team=ml"], expect: 0),
            Step(args: ["volume", "list"], expect: 0),
            Step(args: ["volume", "inspect", "data"], expect: 0),
            Step(args: ["volume", "inspect", "data", "--field", "name"], expect: 0),
            Step(args: ["volume", "inspect", "data", "--field", "metadata.nope"], expect: 3),
            Step(args: ["volume", "inspect", "missing"], expect: 3),
            Step(args: ["files", "put", "data", "/docs/hello.txt", scratch + "/hello.txt"], expect: 0),
            Step(args: ["files", "put", "data", "/in.txt"], stdin: Data("from stdin\n".utf8), expect: 0),
            Step(args: ["files", "put", "data", "/docs/hello.txt", scratch + "/no-such-file"], expect: 3),
            Step(args: ["files", "put", "data", "/x/y", scratch + "/hello.txt", "--no-parents"], expect: 3),
            Step(args: ["files", "cat", "data", "/docs/hello.txt"], expect: 0),
            Step(args: ["files", "cat", "data", "/docs/hello.txt", "--offset", "2", "--length", "3"], expect: 0),
            Step(args: ["files", "cat", "data", "/docs/hello.txt", "--offset", "100"], expect: 0),
            Step(args: ["files", "cat", "data", "/docs/hello.txt", "--json"], expect: 0),
            Step(args: ["files", "cat", "data", "/missing"], expect: 3),
            Step(args: ["files", "cat", "data", "/docs"], expect: 4),
            Step(args: ["files", "ls", "data"], expect: 0),
            Step(args: ["files", "ls", "data", "/", "--recursive"], expect: 0),
            Step(args: ["files", "ls", "data", "/", "--depth", "2", "--json"], expect: 0),
            Step(args: ["files", "ls", "data", "/in.txt"], expect: 4),
            Step(args: ["files", "stat", "data", "/docs/hello.txt"], expect: 0),
            Step(args: ["files", "stat", "data", "/docs/hello.txt", "--json"], expect: 0),
            Step(args: ["files", "exists", "data", "/docs/hello.txt"], expect: 0),
            Step(args: ["files", "exists", "data", "/nope"], expect: 1),
            Step(args: ["files", "mkdir", "data", "/d"], expect: 0),
            Step(args: ["files", "mkdir", "data", "/d"], expect: 4),
            Step(args: ["files", "mkdir", "data", "/d", "-p"], expect: 0),
            Step(args: ["files", "mkdir", "data", "/a/b"], expect: 3),
            Step(args: ["files", "mv", "data", "/in.txt", "/d/in.txt"], expect: 0),
            Step(args: ["files", "mv", "data", "/nope", "/d/x"], expect: 3),
            Step(args: ["files", "edit", "data", "/docs/hello.txt", "--old", "hello", "--new", "howdy"], expect: 0),
            Step(args: ["files", "edit", "data", "/docs/hello.txt", "--old", "zzz", "--new", "y"], expect: 4),
            Step(args: ["files", "search", "data", "--name", "*.txt"], expect: 0),
            Step(args: ["files", "search", "data", "--content", "howdy", "--json"], expect: 0),
            Step(args: ["files", "replace", "data", "--glob", "*.txt", "--old", "howdy", "--new", "hi", "--dry-run"], expect: 0),
            Step(args: ["files", "replace", "data", "--glob", "*.txt", "--old", "howdy", "--new", "hi"], expect: 0),
            Step(args: ["files", "get", "data", "/docs/hello.txt", scratch + "/out/"], expect: 0),
            Step(args: ["files", "get", "data", "/docs/hello.txt", "-"], expect: 0),
            Step(args: ["files", "get", "data", "/missing", scratch + "/out/"], expect: 3),
            Step(args: ["files", "stat", "data", "/a/../b"], expect: 64),
            Step(args: ["upload", scratch + "/blob.bin", "data:/up/blob.bin"], expect: 0),
            Step(args: ["upload", scratch + "/blob.bin", "data:/d/"], expect: 0),
            Step(args: ["upload", "-", "data:/up/stdin.bin"], stdin: Data(repeating: 9, count: 5000), expect: 0),
            Step(args: ["download", "data:/up/blob.bin", scratch + "/out/"], expect: 0),
            Step(args: ["download", "data:/up/missing", scratch + "/out/"], expect: 3),
            Step(args: ["files", "cat", "data", "/up/stdin.bin", "--length", "10"], expect: 0),
            Step(args: ["volume", "list", "--json"], expect: 0),
            // Directory trees both ways and exports, through the archive route remotely (streamed through the core's tar).
            Step(args: ["upload", scratch + "/tree2", "data:/trees/"], expect: 0),
            Step(args: ["upload", scratch + "/tree2", "data:/trees/renamed", "--json"], expect: 0),
            Step(args: ["upload", scratch + "/tree2", "data:/trees/tree2"], expect: 0),
            // Again into the same place: the files are replaced, and the summaries count them alike.
            Step(args: ["upload", scratch + "/tree2", "data:/trees/", "--json"], expect: 0),
            Step(args: ["upload", scratch + "/tree2", "missing:/x"], expect: 3),
            Step(args: ["upload", scratch + "/no-such-dir", "data:/x/"], expect: 3),
            Step(args: ["upload", scratch + "/tree2", "data:/"], expect: 0),
            Step(args: ["files", "rm", "data", "/tree2", "-r"], expect: 0),
            Step(args: ["files", "ls", "data", "/trees", "-R", "--json"], expect: 0),
            Step(prepare: { try Self.addLinks(dataDir: $0) }),
            Step(args: ["download", "data:/trees/tree2", scratch + "/out/"], expect: 0, compare: "out",
                 has: ["tree2/escape": "symlink to ../../../../etc", "tree2/lnk": "symlink to sub/big.bin",
                       "tree2/hard.txt": "mode 100644 uid 0 gid 0 size 4 links 2", "tree2/sub/deeper/two.txt": "mode 100750",
                       "tree2/sub/deeper": "mode 40700", "tree2/one.txt": "mode 100644 uid 0 gid 0 size 4 links 2"]),
            // A download that fails half way (a local file where a directory goes) leaves what the local form leaves:
            // the files written before, whole, and no partial file.
            Step(args: ["download", "data:/trees/tree2", scratch + "/out/"], expect: 4, compare: "out",
                 has: ["tree2/hard.txt": "mode 100644 uid 0 gid 0 size 4 links 2", "tree2/sub": "mode 100644 uid 0 gid 0 size 0"],
                 setupOut: { out in
                     try FileManager.default.createDirectory(atPath: out + "/tree2", withIntermediateDirectories: true)
                     try Data().write(to: URL(fileURLWithPath: out + "/tree2/sub"))
                     try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: 1_500_000_000)], ofItemAtPath: out + "/tree2/sub")
                 }),
            Step(args: ["download", "data:/trees", scratch + "/out/new", "--json"], expect: 0, compare: "out"),
            // The root's contents straight into the directory (files written at different times: no tree comparison).
            Step(args: ["download", "data:/", scratch + "/out/"], expect: 0),
            // A symlink is followed (its target downloaded under the target's name).
            Step(args: ["download", "data:/trees/tree2/lnk", scratch + "/out/"], expect: 0),
            Step(args: ["download", "data:/trees/tree2/fifo", scratch + "/out/"], expect: 64, compare: "out"),
            Step(args: ["download", "data:/trees/nope", scratch + "/out/"], expect: 3, compare: "out"),
            Step(args: ["download", "missing:/", scratch + "/out/"], expect: 3, compare: "out"),
            // A whole volume whose entries all keep the uploaded tree's times: the same archive in both worlds.
            Step(args: ["volume", "create", "mirror"], expect: 0),
            Step(args: ["upload", scratch + "/tree2", "mirror:/"], expect: 0),
            Step(args: ["export", "mirror", "-o", scratch + "/out/mirror.tar.gz"], expect: 0, compare: "out"),
            Step(args: ["volume", "delete", "mirror"], expect: 0),
            // A directory whose entries all keep the uploaded tree's times: the same archive, byte for byte.
            Step(args: ["export", "data", "--path", "/trees/tree2/sub", "-o", scratch + "/out/s.tar.gz"], expect: 0, compare: "out"),
            Step(args: ["export", "data", "--path", "/trees/tree2/sub", "-o", scratch + "/out/t.tar.gz", "--level", "1", "--json"], expect: 0, compare: "out"),
            Step(args: ["export", "data", "--path", "/trees/tree2/sub/big.bin", "-o", scratch + "/out/f.tar.gz"], expect: 0, compare: "out"),
            Step(args: ["export", "missing", "-o", scratch + "/out/x.tar.gz"], expect: 3, compare: "out"),
            Step(args: ["export", "data", "--path", "/nope", "-o", scratch + "/out/x.tar.gz"], expect: 3, compare: "out"),
            Step(args: ["files", "rm", "data", "/trees", "-r"], expect: 0),
            // The operator's calls: caps, gc and fsck (one volume so far, so 'fsck' of all lists the same).
            Step(args: ["quota", "show", "data"], expect: 0),
            Step(args: ["quota", "set", "data", "1GiB"], expect: 0),
            Step(args: ["quota", "show", "data", "--json"], expect: 0),
            Step(args: ["quota", "set", "data", "1KiB"], expect: 64),
            Step(args: ["quota", "set", "missing", "1GiB"], expect: 3),
            Step(args: ["quota", "clear", "data"], expect: 0),
            Step(args: ["quota", "set", "--tenant", "default", "3GiB"], expect: 0),
            Step(args: ["quota", "show", "data"], expect: 0),
            Step(args: ["quota", "clear", "--tenant", "default", "--json"], expect: 0),
            Step(args: ["gc", "--dry-run"], expect: 0),
            Step(args: ["gc", "--grace", "0s", "--json"], expect: 0),
            Step(args: ["fsck"], expect: 0),
            Step(args: ["fsck", "data", "--json"], expect: 0),
            Step(args: ["fsck", "missing"], expect: 3),
            // Locally the new volume also gets metadata imported_from=FILE; the HTTP create has no metadata (yet).
            Step(args: ["import", scratch + "/blob.tar.gz", "--create", "imported"], expect: 0),
            Step(args: ["files", "ls", "imported", "/", "-R"], expect: 0),
            // Into an existing volume, below a directory; and a new volume below its root.
            Step(args: ["import", scratch + "/blob.tar.gz", "--volume", "data", "--path", "/restored"], expect: 0),
            Step(args: ["files", "ls", "data", "/restored", "-R"], expect: 0),
            Step(args: ["import", scratch + "/blob.tar.gz", "--create", "nested", "--path", "/a/b", "--json"], expect: 0),
            Step(args: ["files", "ls", "nested", "/", "-R"], expect: 0),
            Step(args: ["import", scratch + "/blob.tar.gz", "--volume", "missing"], expect: 3),
            // As a user: every entry an upload or import writes is that user's, in both worlds.
            Step(args: ["upload", scratch + "/tree2", "data:/owned/", "--user", "1000:100"], expect: 0),
            Step(args: ["upload", scratch + "/blob.bin", "data:/owned/one.bin", "--user", "1000:100"], expect: 0),
            Step(args: ["upload", "-", "data:/owned/stdin.bin", "--user", "1000:100"], stdin: Data(repeating: 7, count: 3000), expect: 0),
            Step(args: ["import", scratch + "/blob.tar.gz", "--volume", "data", "--path", "/owned/imp", "--user", "1000:100"], expect: 0),
            Step(args: ["files", "ls", "data", "/owned", "-R", "--json"], expect: 0, check: everyEntryOwned(by: 1000, 100, count: 13)),
            Step(args: ["import", scratch + "/blob.tar.gz", "--create", "owned", "--user", "1000"], expect: 0),
            Step(args: ["files", "ls", "owned", "/", "-R", "--json"], expect: 0, check: everyEntryOwned(by: 1000, 1000, count: 2)),
            Step(args: ["volume", "delete", "owned"], expect: 0),
            Step(args: ["upload", scratch + "/tree2", "data:/x/", "--user", "alice"], expect: 64),
            Step(args: ["import", scratch + "/blob.tar.gz", "--volume", "data", "--user", "alice"], expect: 64),
            Step(args: ["files", "rm", "data", "/owned", "-r"], expect: 0),
            Step(args: ["import", scratch + "/no-such.tar.gz", "--volume", "data"], expect: 3),
            Step(args: ["volume", "delete", "nested", "--force"], expect: 0),
            Step(args: ["files", "rm", "data", "/d"], expect: 4),
            Step(args: ["files", "rm", "data", "/d", "-r"], expect: 0),
            Step(args: ["files", "rm", "data", "/nope"], expect: 3),
            Step(args: ["files", "rm", "data", "/nope", "-f"], expect: 0),
            Step(args: ["volume", "delete", "imported"], expect: 0),
            Step(args: ["volume", "list", "--json"], expect: 0),
            Step(args: ["volume", "list", "--quiet"], expect: 0),
        ]
    }

    /// Volume IDs and times differ between the two worlds; everything else must not.
    static func normalize(_ s: String) -> String {
        var out = s
        for (pattern, with) in [(#"vol-[a-z0-9]{20}"#, "vol-ID"), (#"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"#, "TIME")] {
            out = out.replacingOccurrences(of: pattern, with: with, options: .regularExpression)
        }
        return out
    }

    func testTheSameCommandsPrintTheSameAndExitTheSameLocallyAndOverEndpoint() throws {
        let d = try Daemon()
        defer { d.stop() }
        let localDir = try TemporaryDirectory("ctl-local")
        let scratch = try TemporaryDirectory("ctl-scratch")
        defer { localDir.remove(); scratch.remove() }
        try Data("hello world\n".utf8).write(to: scratch.url.appendingPathComponent("hello.txt"))
        try Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }).write(to: scratch.url.appendingPathComponent("blob.bin"))
        let tree = scratch.path + "/tree"
        try FileManager.default.createDirectory(atPath: tree + "/sub", withIntermediateDirectories: true)
        try Data("one\n".utf8).write(to: URL(fileURLWithPath: tree + "/sub/one.txt"))
        try FileManager.default.createSymbolicLink(atPath: tree + "/link", withDestinationPath: "sub/one.txt")
        XCTAssertEqual(try Daemon.runTool("/usr/bin/tar", ["-czf", scratch.path + "/blob.tar.gz", "-C", tree, "."]).status, 0)
        try Self.makeTree(scratch.path + "/tree2")
        let ctl = try Daemon.volumectl.get().path
        let out = scratch.path + "/out"

        var mismatches: [String] = []
        for step in Self.steps(scratch.path) {
            if let prepare = step.prepare {
                try prepare(localDir.path)
                // The daemon's volume should hold what the local one holds by now; if not, say so and go on.
                do { try prepare(d.dataDir) } catch { mismatches.append("preparing the daemon's volume: \(error)") }
                continue
            }
            var runs: [Daemon.ToolRun] = []
            var trees: [[String: String]] = []
            for world in [["--data-dir", localDir.path], ["--endpoint", d.url]] {
                try? FileManager.default.removeItem(atPath: out)
                try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
                try step.setupOut?(out)
                runs.append(try Daemon.runTool(ctl, world + step.args, env: ["VOLUMES_API_KEY": d.operatorKey, "VOLUMES_ENDPOINT": "",
                                                                              "VOLUMES_DATA_DIR": "", "VOLUMES_TENANT": ""],
                                               stdin: step.stdin))
                if let c = step.compare { trees.append(try Self.describeTree(scratch.path + "/" + c)) }
            }
            let (local, remote) = (runs[0], runs[1])
            let name = step.args.joined(separator: " ").replacingOccurrences(of: scratch.path, with: "LOCAL")
            if let check = step.check {
                for (world, run) in [("local", local), ("remote", remote)] {
                    if let wrong = check(run.stdout) { XCTFail("\(name) (\(world)): \(wrong)") }
                }
            }
            XCTAssertEqual(local.status, step.expect, "local \(name): \(local.stderr)")
            if local.status != remote.status { mismatches.append("\(name): exit \(local.status) locally, \(remote.status) remotely (\(remote.stderr))") }
            if trees.count == 2, trees[0] != trees[1] {
                let keys = Set(trees[0].keys).union(trees[1].keys).sorted().filter { trees[0][$0] != trees[1][$0] }
                mismatches.append("\(name): the local trees differ\n" + keys.map { "  \($0): local \(trees[0][$0] ?? "-"), remote \(trees[1][$0] ?? "-")" }.joined(separator: "\n"))
            }
            if step.compare != nil, step.expect == 0, trees.first?.count ?? 0 < 2 { XCTFail("\(name): nothing was written to compare") }
            for (i, tree) in trees.enumerated() {
                for path in tree.keys where path.contains(".part-") { XCTFail("\(name): a partial file was left: \(path) (world \(i))") }
                for (path, start) in step.has where !(tree[path] ?? "").hasPrefix(start) {
                    XCTFail("\(name) (\(i == 0 ? "local" : "remote")): \(path) is \(tree[path] ?? "missing"), not \(start)...")
                }
            }
            let jsonSummary = step.args.contains("--json") && ["upload", "download", "import", "export"].contains(step.args[0])
            if jsonSummary, step.args[0] != "import", local.status == 0 {
                // The summaries, less the time taken.
                if Self.summary(local.stdout) == nil || Self.summary(local.stdout) != Self.summary(remote.stdout) {
                    mismatches.append("\(name): JSON differs\n  local:  \(local.stdout)\n  remote: \(remote.stdout)")
                }
            }
            if !jsonSummary, Self.normalize(local.stdout) != Self.normalize(remote.stdout) {
                mismatches.append("\(name): stdout differs\n  local:  \(local.stdout.debugDescription)\n  remote: \(remote.stdout.debugDescription)")
            }
            if Self.normalize(local.stderr) != Self.normalize(remote.stderr) {
                mismatches.append("\(name): stderr differs\n  local:  \(local.stderr.debugDescription)\n  remote: \(remote.stderr.debugDescription)")
            }
        }
        XCTAssertEqual(mismatches, [], mismatches.joined(separator: "\n"))
    }

    /// The tree uploaded: nested directories, modes, an empty directory, a larger file, and a symlink (skipped).
    static func makeTree(_ root: String) throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: root + "/sub/deeper", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: root + "/empty", withIntermediateDirectories: true)
        try Data("one\n".utf8).write(to: URL(fileURLWithPath: root + "/one.txt"))
        try Data("two\n".utf8).write(to: URL(fileURLWithPath: root + "/sub/deeper/two.txt"))
        try Data((0..<700_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }).write(to: URL(fileURLWithPath: root + "/sub/big.bin"))
        try Data().write(to: URL(fileURLWithPath: root + "/sub/zero"))
        try fm.setAttributes([.posixPermissions: 0o750], ofItemAtPath: root + "/sub/deeper/two.txt")
        try fm.setAttributes([.posixPermissions: 0o700], ofItemAtPath: root + "/sub/deeper")
        try fm.setAttributes([.posixPermissions: 0o600], ofItemAtPath: root + "/sub/big.bin")
        try fm.setAttributes([.modificationDate: Date(timeIntervalSince1970: 1_600_000_000.123456)], ofItemAtPath: root + "/one.txt")
        try fm.createSymbolicLink(atPath: root + "/link", withDestinationPath: "one.txt")
    }

    /// What no upload makes: symlinks (one inside, one pointing out of the tree), a hard link and a FIFO,
    /// made through the core in the world's data directory (the daemon's too: the catalog is shared by processes).
    static func addLinks(dataDir: String) throws {
        let store = try VolumeStore(dataDir: URL(fileURLWithPath: dataDir))
        defer { try? store.close() }
        let v = try store.volume(try store.resolve("data", owner: nil), owner: nil)
        let dir = try v.attributes(at: "/trees/tree2").ino
        _ = try v.create(parent: dir, name: Data("lnk".utf8), kind: .symlink, mode: 0o777, caller: .root, target: Data("sub/big.bin".utf8))
        _ = try v.create(parent: dir, name: Data("escape".utf8), kind: .symlink, mode: 0o777, caller: .root, target: Data("../../../../etc".utf8))
        _ = try v.create(parent: dir, name: Data("fifo".utf8), kind: .fifo, mode: 0o644, caller: .root)
        _ = try v.link(try v.attributes(at: "/trees/tree2/one.txt").ino, newParent: dir, newName: Data("hard.txt".utf8), caller: .root)
        try v.flushAll()
    }

    /// Every entry below `root` (relative path: type, mode, owner, size, content hash, file mtime but an archive's, link count, target).
    static func describeTree(_ root: String) throws -> [String: String] {
        var out: [String: String] = [:]
        func walk(_ rel: String) throws {
            let path = rel.isEmpty ? root : root + "/" + rel
            var st = stat()
            guard lstat(path, &st) == 0 else { return }
            var d = "mode \(String(st.st_mode, radix: 8)) uid \(st.st_uid) gid \(st.st_gid)"
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                out[rel] = d
                for name in try FileManager.default.contentsOfDirectory(atPath: path).sorted() { try walk(rel.isEmpty ? name : rel + "/" + name) }
            case S_IFLNK:
                out[rel] = "symlink to " + (try FileManager.default.destinationOfSymbolicLink(atPath: path))
            default:
                let data = try Data(contentsOf: URL(fileURLWithPath: path))
                let sum = SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
                d += " size \(st.st_size) links \(st.st_nlink) sha256 \(sum)"
                // A downloaded file keeps the volume's time; an exported archive is new (its time is when it was written).
                if !rel.hasSuffix(".tar.gz") { d += " mtime \(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)" }
                out[rel] = d
            }
        }
        try walk("")
        return out
    }

    /// A transfer's --json summary without `seconds` and with the volume ID normalized (nil: not a JSON object).
    static func summary(_ text: String) -> NSDictionary? {
        guard var o = (try? JSONSerialization.jsonObject(with: Data(normalize(text).utf8))) as? [String: Any] else { return nil }
        o["seconds"] = nil
        return o as NSDictionary
    }

    func testOverTheCapExits5InBothWorlds() throws {
        let d = try Daemon()
        defer { d.stop() }
        let localDir = try TemporaryDirectory("ctl-local-cap")
        let scratch = try TemporaryDirectory("ctl-scratch-cap")
        defer { localDir.remove(); scratch.remove() }
        try Data(repeating: 1, count: 300 << 10).write(to: scratch.url.appendingPathComponent("big.bin"))
        // A directory over the cap only with its last file: the upload streams most of it before the cap stops it.
        let tree = scratch.path + "/tree"
        try FileManager.default.createDirectory(atPath: tree + "/a", withIntermediateDirectories: true)
        try Data(repeating: 2, count: 60 << 10).write(to: URL(fileURLWithPath: tree + "/a/first.bin"))
        try Data(repeating: 3, count: 60 << 10).write(to: URL(fileURLWithPath: tree + "/b.bin"))
        let ctl = try Daemon.volumectl.get().path
        let env = ["VOLUMES_API_KEY": d.operatorKey, "VOLUMES_ENDPOINT": "", "VOLUMES_DATA_DIR": "", "VOLUMES_TENANT": ""]
        var results: [Daemon.ToolRun] = []
        for world in [["--data-dir", localDir.path], ["--endpoint", d.url]] {
            XCTAssertEqual(try Daemon.runTool(ctl, world + ["volume", "create", "capped"], env: env).status, 0)
            let q = try Daemon.runTool(ctl, world + ["quota", "set", "capped", "100KiB"], env: env)
            XCTAssertEqual(q.status, 0, q.stderr)
            XCTAssertEqual(try Daemon.runTool(ctl, world + ["files", "mkdir", "capped", "/keep"], env: env).status, 0)
            let before = try Daemon.runTool(ctl, world + ["files", "ls", "capped", "/", "-R", "--json"], env: env)
            XCTAssertEqual(before.status, 0, before.stderr)
            results.append(try Daemon.runTool(ctl, world + ["files", "put", "capped", "/big.bin", scratch.path + "/big.bin"], env: env))
            results.append(try Daemon.runTool(ctl, world + ["upload", scratch.path + "/big.bin", "capped:/up.bin"], env: env))
            results.append(try Daemon.runTool(ctl, world + ["upload", tree, "capped:/keep/"], env: env))
            // Nothing of the failed directory upload is in the volume.
            let after = try Daemon.runTool(ctl, world + ["files", "ls", "capped", "/", "-R", "--json"], env: env)
            XCTAssertEqual(after.stdout, before.stdout, "\(world[0]): a directory upload over the cap changed the volume")
        }
        for r in results { XCTAssertEqual(r.status, 5, r.stderr) }
        // 'files put' and upload go through the one streaming write in both worlds, so each says the same.
        XCTAssertEqual(Self.normalize(results[0].stderr), Self.normalize(results[3].stderr))
        XCTAssertEqual(Self.normalize(results[1].stderr), Self.normalize(results[4].stderr))
        XCTAssertEqual(Self.normalize(results[2].stderr), Self.normalize(results[5].stderr))
    }

    /// Ctrl-C during a directory upload: exit 130 and the volume as it was, locally and over the endpoint (where
    /// the upload stream fails, the request is cut, and the daemon's import keeps nothing).
    func testAnInterruptedDirectoryUploadLeavesTheVolumeAsBefore() throws {
        let d = try Daemon()
        defer { d.stop() }
        let localDir = try TemporaryDirectory("ctl-local-int")
        let scratch = try TemporaryDirectory("ctl-scratch-int")
        defer { localDir.remove(); scratch.remove() }
        // Small files first, then 32 GiB of holes: the upload is still streaming when the signal comes.
        let tree = scratch.path + "/tree"
        try FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: true)
        try Data("a\n".utf8).write(to: URL(fileURLWithPath: tree + "/a.txt"))
        XCTAssertEqual(try Daemon.runTool("/usr/bin/truncate", ["-s", "32G", tree + "/z-sparse.bin"]).status, 0)
        let ctl = try Daemon.volumectl.get().path
        let env = ["VOLUMES_API_KEY": d.operatorKey, "VOLUMES_ENDPOINT": "", "VOLUMES_DATA_DIR": "", "VOLUMES_TENANT": ""]
        for world in [["--data-dir", localDir.path], ["--endpoint", d.url]] {
            XCTAssertEqual(try Daemon.runTool(ctl, world + ["volume", "create", "v"], env: env).status, 0)
            XCTAssertEqual(try Daemon.runTool(ctl, world + ["quota", "set", "v", "64GiB"], env: env).status, 0)
            XCTAssertEqual(try Daemon.runTool(ctl, world + ["files", "put", "v", "/keep.txt"], env: env, stdin: Data("kept\n".utf8)).status, 0)
            let before = try Daemon.runTool(ctl, world + ["files", "ls", "v", "/", "-R", "--json"], env: env)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: ctl)
            p.arguments = world + ["upload", tree, "v:/"]
            p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
            let errPath = scratch.path + "/stderr"
            _ = FileManager.default.createFile(atPath: errPath, contents: nil)
            p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
            p.standardOutput = FileHandle.nullDevice
            try p.run()
            Thread.sleep(forTimeInterval: 1.5)
            XCTAssertTrue(p.isRunning, "\(world[0]): the upload ended before the signal; the test needs a longer upload")
            kill(p.processIdentifier, SIGINT)
            p.waitUntilExit()
            let stderr = try String(contentsOfFile: errPath, encoding: .utf8)
            XCTAssertEqual(p.terminationStatus, 130, "\(world[0]): \(stderr)")
            XCTAssertTrue(stderr.contains("interrupted"), "\(world[0]): \(stderr)")
            let after = try Daemon.runTool(ctl, world + ["files", "ls", "v", "/", "-R", "--json"], env: env)
            XCTAssertEqual(after.stdout, before.stdout, "\(world[0]): the interrupted upload changed the volume")
        }
        let fsck = try d.volumectl("fsck")
        XCTAssertEqual(fsck.status, 0, fsck.stdout + fsck.stderr)
    }

    /// The daemon killed during a directory download: exit 70 saying the download was cut, the files written
    /// before it whole and no partial file; killed during a directory upload: after a restart the volume is as it
    /// was (the archive import commits once, at its end).
    func testACutTransferLeavesNoPartialFileAndNoPartialUpload() throws {
        let d = try Daemon()
        defer { d.stop() }
        let scratch = try TemporaryDirectory("ctl-scratch-cut")
        defer { scratch.remove() }
        let tree = scratch.path + "/tree"
        try FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: true)
        try Data("first\n".utf8).write(to: URL(fileURLWithPath: tree + "/a.txt"))
        let big = try Daemon.runTool("/bin/sh", ["-c", "head -c 200M /dev/urandom > '\(tree)/big.bin'"])
        XCTAssertEqual(big.status, 0, big.stderr)
        let ctl = try Daemon.volumectl.get().path
        var env = ["VOLUMES_API_KEY": d.operatorKey, "VOLUMES_ENDPOINT": d.url, "VOLUMES_DATA_DIR": "", "VOLUMES_TENANT": ""]
        XCTAssertEqual(try Daemon.runTool(ctl, ["volume", "create", "v"], env: env).status, 0)
        let up = try Daemon.runTool(ctl, ["upload", tree, "v:/"], env: env)
        XCTAssertEqual(up.status, 0, up.stderr)

        func start(_ args: [String]) throws -> (Process, String) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: ctl)
            p.arguments = args
            p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
            let errPath = scratch.path + "/stderr-\(args[0])"
            _ = FileManager.default.createFile(atPath: errPath, contents: nil)
            p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
            p.standardOutput = FileHandle.nullDevice
            try p.run()
            return (p, errPath)
        }

        // The download: killed once a.txt is whole and big.bin is being written (its temporary file is there).
        let out = scratch.path + "/out"
        let (down, downErr) = try start(["download", "v:/tree", out])
        var midway = false
        for _ in 0..<1200 where !midway {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: out)) ?? []
            midway = names.contains { $0.hasPrefix(".big.bin.part-") }
            if !midway { usleep(25_000) }
        }
        XCTAssertTrue(midway, "the download never got to big.bin")
        d.stop(signal: SIGKILL)
        down.waitUntilExit()
        let downText = try String(contentsOfFile: downErr, encoding: .utf8)
        XCTAssertEqual(down.terminationStatus, 70, downText)
        XCTAssertTrue(downText.contains("the download was cut"), downText)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out + "/a.txt")), Data("first\n".utf8))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out).sorted(), ["a.txt"], "no partial big.bin")

        // The upload: killed while the tree streams; after a restart nothing of it is in the volume.
        try d.start()
        env["VOLUMES_ENDPOINT"] = d.url
        let before = try Daemon.runTool(ctl, ["files", "ls", "v", "/", "-R", "--json"], env: env)
        XCTAssertEqual(before.status, 0, before.stderr)
        let (upload, upErr) = try start(["upload", tree, "v:/again"])
        Thread.sleep(forTimeInterval: 1.5)
        XCTAssertTrue(upload.isRunning, "the upload ended before the daemon was killed; the test needs a longer upload")
        d.stop(signal: SIGKILL)
        upload.waitUntilExit()
        let upText = try String(contentsOfFile: upErr, encoding: .utf8)
        XCTAssertEqual(upload.terminationStatus, 70, upText)
        try d.start()
        env["VOLUMES_ENDPOINT"] = d.url
        let after = try Daemon.runTool(ctl, ["files", "ls", "v", "/", "-R", "--json"], env: env)
        XCTAssertEqual(Self.normalize(after.stdout), Self.normalize(before.stdout), "a cut upload changed the volume")
        let fsck = try Daemon.runTool(ctl, ["fsck", "v"], env: env)
        XCTAssertEqual(fsck.status, 0, fsck.stdout + fsck.stderr)
    }

    func testCommandsWithoutARouteSayNotAvailableAndExit64() throws {
        let d = try Daemon()
        defer { d.stop() }
        let ctl = try Daemon.volumectl.get().path
        let env = ["VOLUMES_API_KEY": d.operatorKey, "VOLUMES_ENDPOINT": d.url, "VOLUMES_DATA_DIR": "", "VOLUMES_TENANT": ""]
        XCTAssertEqual(try Daemon.runTool(ctl, ["volume", "create", "v"], env: env).status, 0, "VOLUMES_ENDPOINT alone selects the daemon")
        let scratch = try TemporaryDirectory("ctl-na")
        defer { scratch.remove() }
        try FileManager.default.createDirectory(atPath: scratch.path + "/dir", withIntermediateDirectories: true)
        // Only what acts on this host's own mounts stays local (every transfer has a remote form now).
        for args in [["unmount", scratch.path + "/dir"], ["mount", "v", scratch.path + "/dir"]] {
            let r = try Daemon.runTool(ctl, args, env: env)
            XCTAssertEqual(r.status, 64, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("not available over --endpoint yet"), "\(args): \(r.stderr)")
        }
        // API keys go through the admin routes.
        let made = try Daemon.runTool(ctl, ["apikey", "create", "--tenant", "zeta"], env: env)
        XCTAssertEqual(made.status, 0, made.stderr)
        XCTAssertTrue(made.stdout.hasPrefix("vk_"), made.stdout)
        let listed = try Daemon.runTool(ctl, ["apikey", "list", "--tenant", "zeta", "--json"], env: env)
        let keys = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]], listed.stdout)
        XCTAssertEqual(keys.count, 1)
        let id = try XCTUnwrap(keys.first?["id"] as? String)
        let revoked = try Daemon.runTool(ctl, ["apikey", "revoke", id], env: env)
        XCTAssertEqual(revoked.stdout, "revoked key \(id) of tenant zeta\n", revoked.stderr)
        let gone = try Daemon.runTool(ctl, ["volume", "list"], env: env.merging(["VOLUMES_API_KEY": made.stdout.trimmingCharacters(in: .whitespacesAndNewlines)]) { $1 })
        XCTAssertEqual(gone.status, 6, "a revoked key: \(gone.stderr)")
        // A wrong key is 'not permitted' (6), an unreachable daemon an internal error (70), both in one line.
        let wrong = try Daemon.runTool(ctl, ["volume", "list"], env: env.merging(["VOLUMES_API_KEY": "vk_wrong"]) { $1 })
        XCTAssertEqual(wrong.status, 6, wrong.stderr)
        let down = try Daemon.runTool(ctl, ["--endpoint", "http://127.0.0.1:1", "volume", "list"], env: env)
        XCTAssertEqual(down.status, 70, down.stderr)
        XCTAssertEqual(down.stderr.split(separator: "\n").count, 1, down.stderr)
    }
}
