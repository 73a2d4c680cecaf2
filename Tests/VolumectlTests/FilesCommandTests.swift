// files put | cat | get | ls | stat | exists | mkdir | mv | rm | edit | search | replace, run through the built binary.
import Foundation
import XCTest

final class FilesCommandTests: XCTestCase {
    func testPutFromAFileAndFromStdinThenCatAndGetReturnTheSameBytes() throws {
        let cli = try CLI()
        let id = try cli.createVolume("data")
        // Every byte value, so a text-only path would corrupt it.
        var binary = Data((0...255).map { UInt8($0) })
        binary.append(Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }))
        try binary.write(to: URL(fileURLWithPath: cli.local("blob.bin")))

        let r = try cli.ok("files", "put", "data", "/bin/blob.bin", cli.local("blob.bin"))
        XCTAssertEqual(r.stdout, "wrote \(binary.count) bytes to /bin/blob.bin in \(id)\n")
        XCTAssertEqual(try cli.ok("files", "cat", "data", "/bin/blob.bin").stdoutData, binary)

        try cli.ok("files", "put", "data", "/stdin-dash.txt", "-", stdin: Data("from stdin\n".utf8))
        try cli.ok("files", "put", "data", "stdin-omitted.txt", stdin: Data("no dash".utf8))
        try cli.ok("files", "put", "data", "/empty", stdin: Data())
        XCTAssertEqual(try cli.cat("data", "/stdin-dash.txt"), "from stdin\n")
        XCTAssertEqual(try cli.cat("data", "/stdin-omitted.txt"), "no dash", "a path without a leading / is from the root")
        XCTAssertEqual(try cli.cat("data", "/empty"), "")

        // Replacing a file replaces it whole.
        try cli.put("data", "/stdin-dash.txt", "new")
        XCTAssertEqual(try cli.cat("data", "/stdin-dash.txt"), "new")

        // get: to a file, into a directory, to stdout.
        let got = try cli.ok("files", "get", "data", "/bin/blob.bin", cli.local("out.bin"))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: cli.local("out.bin"))), binary)
        XCTAssertTrue(got.stdout.contains("wrote \(binary.count) bytes"), got.stdout)
        try FileManager.default.createDirectory(atPath: cli.local("outdir"), withIntermediateDirectories: true)
        try cli.ok("files", "get", "data", "/stdin-omitted.txt", cli.local("outdir"))
        XCTAssertEqual(try String(contentsOfFile: cli.local("outdir/stdin-omitted.txt"), encoding: .utf8), "no dash")
        XCTAssertEqual(try cli.ok("files", "get", "data", "/stdin-omitted.txt", "-").stdout, "no dash")
        let json = try cli.ok("files", "get", "data", "/empty", cli.local("e"), "--json").jsonObject()
        XCTAssertEqual(json["size"] as? Int, 0)
        XCTAssertEqual(json["path"] as? String, "/empty")

        // A failed get leaves the local file alone.
        try "keep".write(toFile: cli.local("keep.txt"), atomically: true, encoding: .utf8)
        try cli.fails(3, "files", "get", "data", "/missing", cli.local("keep.txt"))
        XCTAssertEqual(try String(contentsOfFile: cli.local("keep.txt"), encoding: .utf8), "keep")
    }

    func testCatRangesAndJSON() throws {
        let cli = try CLI()
        _ = try cli.createVolume("data")
        try cli.put("data", "/t.txt", "0123456789")
        XCTAssertEqual(try cli.ok("files", "cat", "data", "/t.txt", "--offset", "3", "--length", "4").stdout, "3456")
        XCTAssertEqual(try cli.ok("files", "cat", "data", "/t.txt", "--offset", "8", "--length", "100").stdout, "89")
        XCTAssertEqual(try cli.ok("files", "cat", "data", "/t.txt", "--offset", "50").stdout, "")
        try cli.fails(64, "files", "cat", "data", "/t.txt", "--offset", "-1")
        try cli.fails(64, "files", "cat", "data", "/t.txt", "--length", "x")

        let text = try cli.ok("files", "cat", "data", "/t.txt", "--json").jsonObject()
        XCTAssertEqual(text["encoding"] as? String, "utf-8")
        XCTAssertEqual(text["content"] as? String, "0123456789")
        XCTAssertEqual(text["size"] as? Int, 10)
        try cli.ok("files", "put", "data", "/b", stdin: Data([0xff, 0xfe, 0x00, 0x01]))
        let bin = try cli.ok("files", "cat", "data", "/b", "--json").jsonObject()
        XCTAssertEqual(bin["encoding"] as? String, "base64")
        XCTAssertEqual(bin["content"] as? String, Data([0xff, 0xfe, 0x00, 0x01]).base64EncodedString())
    }

    func testPutCreatesParentsByDefaultAndNoParentsRefuses() throws {
        let cli = try CLI()
        _ = try cli.createVolume("data")
        try cli.put("data", "/a/b/c/deep.txt", "deep")
        XCTAssertEqual(try cli.ok("files", "stat", "data", "/a/b", "--json").jsonObject()["type"] as? String, "dir")
        try cli.fails(3, "files", "put", "data", "/x/y.txt", "--no-parents", stdin: Data("no".utf8), mentioning: ["/x"])
        XCTAssertEqual(try cli.run("files", "exists", "data", "/x").stdout, "false\n")
        try cli.ok("files", "put", "data", "/a/new.txt", "--no-parents", stdin: Data("ok".utf8))
        try cli.ok("files", "put", "data", "/m", "--mode", "600", stdin: Data("m".utf8))
        XCTAssertEqual(try cli.ok("files", "stat", "data", "/m", "--json").jsonObject()["mode"] as? String, "0600")
        try cli.fails(64, "files", "put", "data", "/m", "--mode", "999", stdin: Data(), mentioning: ["octal"])
        try cli.fails(4, "files", "put", "data", "/a", stdin: Data("onto a directory".utf8), mentioning: ["is a directory"])
        try cli.fails(4, "files", "put", "data", "/a/new.txt/under", stdin: Data("under a file".utf8), mentioning: ["not a directory"])
        try cli.fails(4, "files", "put", "data", "/", stdin: Data("root".utf8), mentioning: ["root"])
    }

    func testPutFromBadLocalFiles() throws {
        let cli = try CLI()
        _ = try cli.createVolume("data")
        try cli.fails(3, "files", "put", "data", "/f", cli.local("no-such-file"), mentioning: ["local file", "no-such-file"])
        try cli.fails(4, "files", "put", "data", "/f", cli.dir.path, mentioning: ["is a directory"])
        XCTAssertEqual(try cli.run("files", "exists", "data", "/f").status, 1, "nothing was written")
    }

    func testListOneLevelRecursiveAndToADepth() throws {
        let cli = try CLI()
        _ = try cli.createVolume("data")
        try cli.put("data", "/docs/a.txt", "aaa")
        try cli.put("data", "/docs/sub/b.txt", "bb")
        try cli.put("data", "/top.txt", "t")
        try cli.ok("files", "mkdir", "data", "/empty")

        let root = try cli.ok("files", "ls", "data")
        XCTAssertEqual(root.line(0).split(separator: " ", omittingEmptySubsequences: true), ["TYPE", "SIZE", "MODE", "MODIFIED", "NAME"])
        XCTAssertEqual(root.lines.dropFirst().map { $0.split(separator: " ").last.map(String.init) ?? "" }, ["docs", "empty", "top.txt"])
        XCTAssertTrue(root.line(3).hasPrefix("file  1 "), root.stdout)
        XCTAssertTrue(root.line(1).hasPrefix("dir "), root.stdout)

        let all = try cli.ok("files", "ls", "data", "/", "--recursive")
        XCTAssertEqual(all.line(0).split(separator: " ", omittingEmptySubsequences: true).last, "PATH")
        XCTAssertEqual(all.lines.dropFirst().map { $0.split(separator: " ").last.map(String.init) ?? "" },
                       ["/docs", "/docs/a.txt", "/docs/sub", "/docs/sub/b.txt", "/empty", "/top.txt"])
        XCTAssertEqual(try cli.ok("files", "ls", "data", "-R").lines.count, 7)

        let two = try cli.ok("files", "ls", "data", "/", "--depth", "2", "--json").jsonArray()
        XCTAssertEqual(two.map { $0["path"] as? String }, ["/docs", "/docs/a.txt", "/docs/sub", "/empty", "/top.txt"])
        for e in two { XCTAssertEqual(Set(e.keys), ["name", "type", "size", "path", "mode", "modified", "uid", "gid"]) }
        XCTAssertEqual(two.at(1)["size"] as? Int, 3)
        XCTAssertEqual(two.at(1)["type"] as? String, "file")
        XCTAssertEqual(two.at(1)["name"] as? String, "a.txt")

        let sub = try cli.ok("files", "ls", "data", "/docs", "--json").jsonArray()
        XCTAssertEqual(sub.map { $0["name"] as? String }, ["a.txt", "sub"])
        XCTAssertEqual(try cli.ok("files", "ls", "data", "/empty", "--json").jsonArray().count, 0)

        try cli.fails(4, "files", "ls", "data", "/top.txt", mentioning: ["not a directory"])
        try cli.fails(3, "files", "ls", "data", "/nope", mentioning: ["not found", "/nope"])
        try cli.fails(64, "files", "ls", "data", "/", "--depth", "0", mentioning: ["--depth"])
        try cli.fails(64, "files", "ls", "data", "/", "--depth", "many")
    }

    /// `files put --user` and `files mkdir --user` create entries owned by that user (root without);
    /// a name other than root is a usage error.
    func testPutAndMkdirAsAUser() throws {
        let cli = try CLI()
        _ = try cli.createVolume("data")
        try cli.ok("files", "put", "data", "/home/app.py", "-", "--user", "1000", stdin: Data("x".utf8))
        let f = try cli.ok("files", "stat", "data", "/home/app.py", "--json").jsonObject()
        XCTAssertEqual([f["uid"] as? Int, f["gid"] as? Int], [1000, 1000])
        XCTAssertEqual(try cli.ok("files", "stat", "data", "/home", "--json").jsonObject()["uid"] as? Int, 1000, "the parent made for it")
        try cli.ok("files", "mkdir", "data", "/srv/x", "-p", "--user", "1001:1002")
        let d = try cli.ok("files", "stat", "data", "/srv", "--json").jsonObject()
        XCTAssertEqual([d["uid"] as? Int, d["gid"] as? Int], [1001, 1002])
        try cli.put("data", "/plain.txt", "p")
        XCTAssertEqual(try cli.ok("files", "stat", "data", "/plain.txt", "--json").jsonObject()["uid"] as? Int, 0)
        try cli.fails(64, "files", "put", "data", "/n.txt", "-", "--user", "alice", stdin: Data(), mentioning: ["--user", "alice"])
    }

    func testStatAndExists() throws {
        let cli = try CLI()
        _ = try cli.createVolume("data")
        try cli.put("data", "/d/f.txt", "hello")
        let stat = try cli.ok("files", "stat", "data", "/d/f.txt")
        XCTAssertTrue(stat.stdout.contains("path:      /d/f.txt"), stat.stdout)
        XCTAssertTrue(stat.stdout.contains("type:      file"), stat.stdout)
        XCTAssertTrue(stat.stdout.contains("size:      5"), stat.stdout)
        XCTAssertTrue(stat.stdout.contains("mode:      0644"), stat.stdout)
        XCTAssertTrue(stat.stdout.contains("owner:     0:0"), stat.stdout)
        let json = try cli.ok("files", "stat", "data", "d/f.txt", "--json").jsonObject()
        XCTAssertEqual(Set(json.keys), ["name", "type", "size", "path", "mode", "modified", "uid", "gid"])
        XCTAssertEqual(json["name"] as? String, "f.txt")
        XCTAssertEqual(json["path"] as? String, "/d/f.txt")
        XCTAssertEqual(try cli.ok("files", "stat", "data", "/", "--json").jsonObject()["type"] as? String, "dir")
        try cli.fails(3, "files", "stat", "data", "/d/nope", mentioning: ["/d/nope"])

        XCTAssertEqual(try cli.ok("files", "exists", "data", "/d/f.txt").stdout, "true\n")
        XCTAssertEqual(try cli.ok("files", "exists", "data", "/d").stdout, "true\n")
        let missing = try cli.run("files", "exists", "data", "/d/nope")
        XCTAssertEqual(missing.status, 1, "a missing path exits 1")
        XCTAssertEqual(missing.stdout, "false\n")
        XCTAssertEqual(missing.stderr, "")
        XCTAssertEqual(try cli.run("files", "exists", "data", "/d/f.txt/under").stdout, "false\n")
        let j = try cli.run("files", "exists", "data", "/nope", "--json")
        XCTAssertEqual(j.status, 1)
        XCTAssertEqual(try j.jsonObject()["exists"] as? Bool, false)
        XCTAssertEqual(try cli.ok("files", "exists", "data", "/d", "--json").jsonObject()["exists"] as? Bool, true)
        // Errors are not 'false': a missing volume is 3, a bad path 64.
        try cli.fails(3, "files", "exists", "nosuchvolume", "/d")
        try cli.fails(64, "files", "exists", "data", "/../etc")
    }

    func testMakeDirectory() throws {
        let cli = try CLI()
        _ = try cli.createVolume("data")
        XCTAssertEqual(try cli.ok("files", "mkdir", "data", "/logs").stdout, "created directory /logs\n")
        try cli.fails(4, "files", "mkdir", "data", "/logs", mentioning: ["already exists"])
        try cli.fails(3, "files", "mkdir", "data", "/a/b/c", mentioning: ["not found"])
        XCTAssertEqual(try cli.ok("files", "mkdir", "data", "/a/b/c", "-p").stdout, "created directory /a/b/c\n")
        XCTAssertEqual(try cli.ok("files", "mkdir", "data", "/a/b/c", "--parents").stdout, "directory /a/b/c already exists\n")
        XCTAssertEqual(try cli.ok("files", "mkdir", "data", "/a/b", "-p", "--json").jsonObject()["created"] as? Bool, false)
        try cli.put("data", "/file", "x")
        try cli.fails(4, "files", "mkdir", "data", "/file", mentioning: ["not a directory"])
        try cli.fails(4, "files", "mkdir", "data", "/file", "-p", mentioning: ["not a directory"])
        try cli.fails(4, "files", "mkdir", "data", "/file/sub", "-p", mentioning: ["not a directory"])
        XCTAssertEqual(try cli.cat("data", "/file"), "x", "the file is untouched")
        try cli.fails(64, "files", "mkdir", "data", "/m", "--mode", "rwx")
    }

    func testMoveWithAndWithoutOverwrite() throws {
        let cli = try CLI()
        _ = try cli.createVolume("data")
        try cli.put("data", "/draft.txt", "draft")
        try cli.put("data", "/final.txt", "final")
        try cli.ok("files", "mkdir", "data", "/archive")

        XCTAssertEqual(try cli.ok("files", "mv", "data", "/draft.txt", "/archive/draft-1.txt").stdout, "moved /draft.txt to /archive/draft-1.txt\n")
        XCTAssertEqual(try cli.run("files", "exists", "data", "/draft.txt").stdout, "false\n")
        XCTAssertEqual(try cli.cat("data", "/archive/draft-1.txt"), "draft")

        try cli.fails(4, "files", "mv", "data", "/archive/draft-1.txt", "/final.txt", mentioning: ["exists"])
        XCTAssertEqual(try cli.cat("data", "/final.txt"), "final", "no overwrite without --overwrite")
        XCTAssertEqual(try cli.cat("data", "/archive/draft-1.txt"), "draft")

        try cli.ok("files", "mv", "data", "/archive/draft-1.txt", "/final.txt", "--overwrite")
        XCTAssertEqual(try cli.cat("data", "/final.txt"), "draft")
        XCTAssertEqual(try cli.run("files", "exists", "data", "/archive/draft-1.txt").stdout, "false\n")

        // Directories move with their contents.
        try cli.put("data", "/archive/old.txt", "old")
        try cli.ok("files", "mv", "data", "/archive", "/attic")
        XCTAssertEqual(try cli.cat("data", "/attic/old.txt"), "old")

        try cli.fails(3, "files", "mv", "data", "/nope", "/x")
        try cli.fails(3, "files", "mv", "data", "/final.txt", "/no/such/dir/x")
        try cli.fails(64, "files", "mv", "data", "/", "/x", mentioning: ["root"])
        try cli.fails(64, "files", "mv", "data", "/final.txt", "/../x", mentioning: [".."])
        try cli.fails(64, "files", "mv", "data", "/final.txt", mentioning: ["missing", "<to>"])
    }

    func testRemove() throws {
        let cli = try CLI()
        _ = try cli.createVolume("data")
        try cli.put("data", "/f.txt", "f")
        try cli.put("data", "/dir/a/b.txt", "b")
        try cli.ok("files", "mkdir", "data", "/emptydir")

        XCTAssertEqual(try cli.ok("files", "rm", "data", "/f.txt").stdout, "removed /f.txt\n")
        XCTAssertEqual(try cli.run("files", "exists", "data", "/f.txt").stdout, "false\n")
        try cli.ok("files", "rm", "data", "/emptydir")
        try cli.fails(4, "files", "rm", "data", "/dir", mentioning: ["not empty", "recursive"])
        XCTAssertEqual(try cli.cat("data", "/dir/a/b.txt"), "b", "nothing removed")
        try cli.ok("files", "rm", "data", "/dir", "-r")
        XCTAssertEqual(try cli.run("files", "exists", "data", "/dir").stdout, "false\n")
        XCTAssertEqual(try cli.ok("volume", "inspect", "data", "--field", "file_count").stdout, "0\n")
        XCTAssertEqual(try cli.ok("volume", "inspect", "data", "--field", "size_bytes").stdout, "0\n")

        try cli.fails(3, "files", "rm", "data", "/f.txt", mentioning: ["not found"])
        XCTAssertEqual(try cli.ok("files", "rm", "data", "/f.txt", "-f").stdout, "/f.txt does not exist\n")
        XCTAssertEqual(try cli.ok("files", "rm", "data", "/f.txt", "--force", "--json").jsonObject()["removed"] as? Bool, false)
        try cli.fails(64, "files", "rm", "data", "/", mentioning: ["root", "delete the volume"])
        try cli.fails(64, "files", "rm", "data", "/", "-r", mentioning: ["root"])
        try cli.fails(64, "files", "rm", "data", "//./", "-r", mentioning: ["root"])
    }

    func testEditOnceZeroManyAndAll() throws {
        let cli = try CLI()
        _ = try cli.createVolume("data")
        try cli.put("data", "/app.conf", "debug = false\nlevel = info\nlevel = info\n")

        XCTAssertEqual(try cli.ok("files", "edit", "data", "/app.conf", "--old", "debug = false", "--new", "debug = true").stdout,
                       "replaced 1 occurrence in /app.conf\n")
        XCTAssertEqual(try cli.cat("data", "/app.conf"), "debug = true\nlevel = info\nlevel = info\n")

        try cli.fails(4, "files", "edit", "data", "/app.conf", "--old", "verbose", "--new", "x", mentioning: ["does not occur"])
        try cli.fails(4, "files", "edit", "data", "/app.conf", "--old", "level = info", "--new", "level = warn",
                      mentioning: ["occurs 2 times", "--all"])
        XCTAssertEqual(try cli.cat("data", "/app.conf"), "debug = true\nlevel = info\nlevel = info\n", "failed edits change nothing")

        let all = try cli.ok("files", "edit", "data", "/app.conf", "--old", "level = info", "--new", "level = warn", "--all", "--json")
        XCTAssertEqual(try all.jsonObject()["replacements"] as? Int, 2)
        XCTAssertEqual(try cli.cat("data", "/app.conf"), "debug = true\nlevel = warn\nlevel = warn\n")

        // Empty replacement deletes; text starting with '-' via --old=.
        try cli.ok("files", "edit", "data", "/app.conf", "--old", "debug = true\n", "--new", "")
        try cli.put("data", "/list", "-x\n")
        try cli.ok("files", "edit", "data", "/list", "--old=-x", "--new=-y")
        XCTAssertEqual(try cli.cat("data", "/list"), "-y\n")
        XCTAssertEqual(try cli.cat("data", "/app.conf"), "level = warn\nlevel = warn\n")

        try cli.fails(64, "files", "edit", "data", "/app.conf", "--old", "", "--new", "x", mentioning: ["--old is empty"])
        try cli.fails(64, "files", "edit", "data", "/app.conf", "--new", "x", mentioning: ["--old"])
        try cli.fails(64, "files", "edit", "data", "/app.conf", "--old", "x", mentioning: ["--new"])
        try cli.fails(3, "files", "edit", "data", "/nope", "--old", "x", "--new", "y")
        try cli.ok("files", "put", "data", "/bin", stdin: Data([0xff, 0xfe, 0xfd]))
        try cli.fails(64, "files", "edit", "data", "/bin", "--old", "x", "--new", "y", mentioning: ["UTF-8"])
    }

    func testSearchByNameAndContent() throws {
        let cli = try CLI()
        _ = try cli.createVolume("data")
        try cli.put("data", "/src/main.py", "import os\n# TODO: fix\nprint('hi')\n")
        try cli.put("data", "/src/util.py", "def f():\n    return 1  # TODO later\n")
        try cli.put("data", "/README.md", "TODO: write docs\n")
        try cli.put("data", "/notes.txt", "nothing here\n")

        XCTAssertEqual(try cli.ok("files", "search", "data", "--name", "*.py").lines, ["/src/main.py", "/src/util.py"])
        XCTAssertEqual(try cli.ok("files", "search", "data", "--name", "src/*").lines, ["/src/main.py", "/src/util.py"])
        XCTAssertEqual(try cli.ok("files", "search", "data", "--content", "TODO").lines,
                       ["/README.md:1:TODO: write docs", "/src/main.py:2:# TODO: fix", "/src/util.py:2:    return 1  # TODO later"])
        XCTAssertEqual(try cli.ok("files", "search", "data", "--content", "^TODO", "--name", "*.md").lines, ["/README.md:1:TODO: write docs"])
        XCTAssertEqual(try cli.ok("files", "search", "data", "--content", "TODO", "--under", "/src").lines.count, 2)
        XCTAssertEqual(try cli.ok("files", "search", "data", "--name", "*.rs").stdout, "", "no hits is not an error")

        let limited = try cli.run("files", "search", "data", "--content", "TODO", "--limit", "1")
        XCTAssertEqual(limited.status, 0)
        XCTAssertEqual(limited.lines.count, 1)
        XCTAssertTrue(limited.stderr.contains("raise --limit"), limited.stderr)
        let json = try cli.ok("files", "search", "data", "--content", "TODO", "--limit", "2", "--json").jsonObject()
        XCTAssertEqual(json["truncated"] as? Bool, true)
        let hits = try XCTUnwrap(json["hits"] as? [[String: Any]])
        XCTAssertEqual(hits.count, 2)
        XCTAssertEqual(hits.at(0)["path"] as? String, "/README.md")
        XCTAssertEqual(hits.at(0)["line"] as? Int, 1)
        XCTAssertEqual(try cli.ok("files", "search", "data", "--name", "*.md", "--json").jsonObject()["truncated"] as? Bool, false)

        try cli.fails(64, "files", "search", "data", mentioning: ["--name", "--content"])
        try cli.fails(64, "files", "search", "data", "--content", "(unclosed", mentioning: ["not a valid regular expression", "(unclosed"])
        try cli.fails(64, "files", "search", "data", "--content", "[a-", mentioning: ["regular expression"])
        try cli.fails(64, "files", "search", "data", "--name", "*.py", "--limit", "0", mentioning: ["--limit"])
        try cli.fails(64, "files", "search", "data", "--name", "*.py", "--limit", "-5")
        try cli.fails(3, "files", "search", "data", "--name", "*", "--under", "/nope")
    }

    func testReplaceDryRunThenForReal() throws {
        let cli = try CLI()
        _ = try cli.createVolume("data")
        try cli.put("data", "/a.conf", "host=db1\nbackup=db1\n")
        try cli.put("data", "/sub/b.conf", "host=db1\n")
        try cli.put("data", "/c.txt", "host=db1\n")

        let dry = try cli.ok("files", "replace", "data", "--glob", "*.conf", "--old", "db1", "--new", "db2", "--dry-run")
        XCTAssertEqual(dry.lines, ["would make 3 replacements in 2 files (dry run; nothing written)", "  /a.conf", "  /sub/b.conf"])
        XCTAssertEqual(try cli.cat("data", "/a.conf"), "host=db1\nbackup=db1\n", "a dry run writes nothing")

        let real = try cli.ok("files", "replace", "data", "--glob", "*.conf", "--old", "db1", "--new", "db2", "--json").jsonObject()
        XCTAssertEqual(real["replacements"] as? Int, 3)
        XCTAssertEqual(real["files"] as? [String], ["/a.conf", "/sub/b.conf"])
        XCTAssertEqual(real["dry_run"] as? Bool, false)
        XCTAssertEqual(try cli.cat("data", "/a.conf"), "host=db2\nbackup=db2\n")
        XCTAssertEqual(try cli.cat("data", "/sub/b.conf"), "host=db2\n")
        XCTAssertEqual(try cli.cat("data", "/c.txt"), "host=db1\n", "the glob did not select it")

        try cli.ok("files", "replace", "data", "--glob", "*", "--old", "db(\\d)", "--new", "database-$1", "--regex")
        XCTAssertEqual(try cli.cat("data", "/c.txt"), "host=database-1\n")
        XCTAssertEqual(try cli.ok("files", "replace", "data", "--glob", "*", "--old", "absent", "--new", "x").stdout,
                       "made 0 replacements in 0 files\n")

        try cli.fails(64, "files", "replace", "data", "--glob", "*", "--old", "(", "--new", "x", "--regex", mentioning: ["regular expression"])
        try cli.ok("files", "replace", "data", "--glob", "*", "--old", "(", "--new", "x")   // a literal '(' is fine without --regex
        try cli.fails(64, "files", "replace", "data", "--old", "a", "--new", "b", mentioning: ["--glob"])
        try cli.fails(64, "files", "replace", "data", "--glob", "*", "--old", "", "--new", "b", mentioning: ["--old is empty"])
    }

    func testBadPathsAndBadTargets() throws {
        let cli = try CLI()
        _ = try cli.createVolume("data")
        try cli.put("data", "/f.txt", "f")
        try cli.ok("files", "mkdir", "data", "/dir")

        try cli.fails(64, "files", "cat", "data", "/../etc/passwd", mentioning: ["..", "inside the volume"])
        try cli.fails(64, "files", "cat", "data", "/dir/../../f.txt", mentioning: [".."])
        try cli.fails(64, "files", "put", "data", "../escape", stdin: Data("x".utf8), mentioning: [".."])
        try cli.fails(64, "files", "cat", "data", "", mentioning: ["empty path"])
        let longName = "/" + String(repeating: "n", count: 256)
        try cli.fails(64, "files", "put", "data", longName, stdin: Data("x".utf8), mentioning: ["256 bytes", "255"])
        try cli.ok("files", "put", "data", "/" + String(repeating: "n", count: 255), stdin: Data("x".utf8))
        let longPath = String(repeating: "/abcd", count: 1000)
        try cli.fails(64, "files", "put", "data", longPath, stdin: Data("x".utf8), mentioning: ["5000 bytes", "4096"])
        try cli.fails(64, "files", "mkdir", "data", longPath, "-p", mentioning: ["4096"])
        try cli.fails(64, "files", "stat", "data", longPath)

        try cli.fails(4, "files", "cat", "data", "/dir", mentioning: ["is a directory"])
        try cli.fails(4, "files", "cat", "data", "/", mentioning: ["is a directory"])
        try cli.fails(4, "files", "cat", "data", "/f.txt/x", mentioning: ["not a directory"])
        try cli.fails(4, "files", "get", "data", "/dir", cli.local("x"), mentioning: ["is a directory"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: cli.local("x")))
        try cli.fails(3, "files", "cat", "data", "/missing.txt", mentioning: ["not found", "/missing.txt"])
        try cli.fails(3, "files", "get", "data", "/f.txt", cli.local("no/such/dir/x"), mentioning: ["local file"])
        XCTAssertEqual(try cli.ok("volume", "inspect", "data", "--field", "file_count").stdout, "2\n", "no bad input wrote anything")
    }

    func testEveryFilesCommandReportsAMissingVolume() throws {
        let cli = try CLI()
        try "x".write(toFile: cli.local("x"), atomically: true, encoding: .utf8)
        let commands: [[String]] = [
            ["put", "novol", "/a", cli.local("x")], ["cat", "novol", "/a"], ["get", "novol", "/a", cli.local("y")],
            ["ls", "novol"], ["stat", "novol", "/a"], ["exists", "novol", "/a"], ["mkdir", "novol", "/a"],
            ["mv", "novol", "/a", "/b"], ["rm", "novol", "/a"], ["edit", "novol", "/a", "--old", "a", "--new", "b"],
            ["search", "novol", "--name", "*"], ["replace", "novol", "--glob", "*", "--old", "a", "--new", "b"],
        ]
        for c in commands {
            let r = try cli.run(["files"] + c)
            XCTAssertEqual(r.status, 3, "files \(c.joined(separator: " ")): \(r.stderr)")
            XCTAssertEqual(r.stderr, "volumectl: not found: volume 'novol'; list volumes with 'volumectl volume list'\n")
        }
    }
}

/// `files put` streams its input into the volume (the write path the daemon's PUT uses) instead of reading it whole.
final class FilesPutStreamingTests: XCTestCase {
    func testPutFromStdinDoesNotHoldTheInputInMemory() throws {
        let cli = try CLI()
        _ = try cli.createVolume("data")
        let bin = try CLI.binary.get().path
        // 600 MiB through a pipe; GNU time reports the peak resident set of volumectl in KiB.
        let script = "head -c 629145600 /dev/zero | /usr/bin/time -f '%M' -o '\(cli.local("rss"))' '\(bin)' files put data /big.bin -"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", script]
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("VOLUMES_") }
        env["VOLUMES_DATA_DIR"] = cli.dataDir
        p.environment = env
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        let stat = try cli.ok("files", "stat", "data", "/big.bin", "--json").jsonObject()
        XCTAssertEqual(stat["size"] as? Int, 629_145_600)
        let rssText = try String(contentsOfFile: cli.local("rss"), encoding: .utf8)
        let peakKiB = try XCTUnwrap(Int(rssText.split(separator: "\n").last.map(String.init)?.trimmingCharacters(in: .whitespaces) ?? ""), rssText)
        // Reading the input whole would need at least its 600 MiB.
        XCTAssertLessThan(peakKiB, 300 << 10, "volumectl's peak RSS was \(peakKiB) KiB for a 600 MiB put")
    }
}
