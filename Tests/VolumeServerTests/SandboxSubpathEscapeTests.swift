// Escapes tried from inside a real bubblewrap sandbox against a subpath attachment: symlinks, `..`, and a rename race by another client.
import Foundation
import XCTest
import VolumeTestSupport

final class SandboxSubpathEscapeTests: XCTestCase {
    /// A volume with secrets beside the subpath `/x`: `/secret.txt` at its root and `/other/secret2.txt`
    /// in a sibling, and `/x/inside.txt`, `/x/deep/d.txt` inside.
    func seed(_ h: SandboxHarness) throws -> String {
        let vol = try h.d.createVolume("data", key: h.key)
        try h.d.put(vol, "/secret.txt", Data("root secret\n".utf8), key: h.key)
        try h.d.put(vol, "/other/secret2.txt", Data("sibling secret\n".utf8), key: h.key, query: "&parents=true")
        try h.d.put(vol, "/x/inside.txt", Data("inside\n".utf8), key: h.key, query: "&parents=true")
        try h.d.put(vol, "/x/deep/d.txt", Data("deep\n".utf8), key: h.key, query: "&parents=true")
        return vol
    }

    /// (a) Symlinks made inside the subpath (relative with `..`, absolute, to `/`, to the host's data
    /// directory and to a host path of the whole volume) reach neither the volume outside `/x` nor the
    /// host: the kernel resolves them in the sandbox's own view, where `/data` is only `/x`. (b) `..`
    /// from the mount root is the sandbox's own `/`. The links are really in the volume (the files API
    /// shows them with their targets).
    /// Passes on the code before this branch as well, where the same rules already held. Checked that it
    /// fails when the attachment serves more than its subpath (`--subpath` left out of the mount
    /// server's arguments: the links land at the volume's root, and what /data shows is the root).
    func testSymlinksAndDotDotFromASubpathMountReachNothingOutsideIt() throws {
        let h = try SandboxHarness(test: self)
        let vol = try seed(h)
        // The whole volume on the host, at a host path (a sandbox with no runtime): a link to it must not work inside.
        let whole = try h.d.send("POST", "/v1/sandboxes", key: h.key, json: ["attachments": [["volume_id": vol, "mount_path": "/whole"]]])
        XCTAssertEqual(whole.status, 201, whole.text)
        let wholePath = try XCTUnwrap(SandboxRouteTests.attachments(try whole.object()).first?["host_path"] as? String)
        XCTAssertEqual(try String(contentsOfFile: wholePath + "/secret.txt", encoding: .utf8), "root secret\n")
        let id = try h.create(["--volume", "data:/data:subpath=/x"])

        let links: [(String, String)] = [
            ("up", "../secret.txt"), ("up2", "../../secret.txt"), ("tricky", "deep/../../secret.txt"), ("abs", "/secret.txt"),
            ("sib", "../other/secret2.txt"), ("root", "/"), ("parent", ".."), ("host", h.d.dataDir + "/operator.key"),
            ("whole", wholePath + "/secret.txt"), ("wholedir", wholePath),
        ]
        let make = try h.sh(id, "cd /data && " + links.map { "ln -s '\($0.1)' \($0.0)" }.joined(separator: " && "))
        XCTAssertEqual(make.status, 0, make.stderr)
        for (name, target) in links {
            let st = try h.d.get("/v1/volumes/\(vol)/files/stat?path=/x/\(name)", key: h.key)
            XCTAssertEqual(st.status, 200, st.text)
            XCTAssertEqual(try st.object()["target"] as? String, target, "the link is in the volume as written: \(st.text)")
        }
        // Reading through each link: nothing of the volume outside /x, nothing of the host.
        for name in ["up", "up2", "tricky", "abs", "sib", "host", "whole"] {
            let r = try h.sh(id, "cat /data/\(name)")
            XCTAssertNotEqual(r.status, 0, "/data/\(name) -> \(links.first { $0.0 == name }!.1) must not resolve: \(r.stdout)")
            XCTAssertFalse(r.stdout.contains("secret"), "/data/\(name) leaked: \(r.stdout)")
        }
        for dir in ["root", "parent"] {
            let r = try h.sh(id, "ls -a /data/\(dir)/")
            XCTAssertEqual(r.status, 0, r.stderr)
            let names = Set(r.stdout.split(separator: "\n").map(String.init))
            XCTAssertTrue(names.isSuperset(of: ["usr", "proc", "data", "tmp"]), "/data/\(dir) is the sandbox's own root: \(names)")
            XCTAssertTrue(names.isDisjoint(with: ["secret.txt", "other", "x"]), "/data/\(dir) must not be the volume's root: \(names)")
        }
        XCTAssertNotEqual(try h.sh(id, "ls /data/wholedir/").status, 0, "a host path is not in the sandbox")
        // (b) `..` from the mount root, and from below it, is the sandbox's `/`.
        let dots = try h.sh(id, """
            cd /data/deep && cd ../.. && pwd && [ "$(stat -c %d:%i /data/..)" = "$(stat -c %d:%i /)" ] && echo same \
            && realpath /data/deep/../.. && ls /data/../../.. | grep -c -x usr
            """)
        XCTAssertEqual(dots.status, 0, dots.stderr)
        XCTAssertEqual(dots.stdout, "/\nsame\n/\n1\n")
        for path in ["/data/../secret.txt", "/data/deep/../../secret.txt", "/data/../../other/secret2.txt", "/data/../x/inside.txt"] {
            let r = try h.sh(id, "cat \(path)")
            XCTAssertNotEqual(r.status, 0, "\(path): \(r.stdout)")
            XCTAssertFalse(r.stdout.contains("secret"), "\(path) leaked: \(r.stdout)")
        }
        // What the mount does show: /x and only /x (the links as links).
        let tree = try h.sh(id, "cd /data && find . -type f | sort && cat inside.txt deep/d.txt")
        XCTAssertEqual(tree.status, 0, tree.stderr)
        XCTAssertEqual(tree.stdout, "./deep/d.txt\n./inside.txt\ninside\ndeep\n")
    }

    /// (c) A rename race. While a loop inside reads through the subpath mount, another client (the files
    /// API) renames `/x` away and puts a directory with other content at `/x`, then moves a sibling
    /// there instead. The mount keeps the directory it was resolved to, by inode: the loop reads the
    /// original content throughout (now at `/x-old`, where a write from inside lands), never the new
    /// `/x`, the sibling or the volume's root. A remount (pause, resume) resolves the path again: it
    /// serves what is at `/x` then; with `/x` gone, resume marks the attachment `failed`,
    /// `subpath_invalid`, with the reason, and nothing is at `/data` inside.
    /// Passes on the code before this branch as well. Checked that it fails when the attachment serves
    /// more than its subpath (`--subpath` left out: the reads fail once /x is renamed, the listing shows
    /// the volume's root, and resume does not fail with /x gone).
    func testARenameRaceByAnotherClientNeverLeadsTheMountOutsideTheDirectoryItResolved() throws {
        let h = try SandboxHarness(test: self)
        let vol = try seed(h)
        try h.d.put(vol, "/y/inside.txt", Data("sibling\n".utf8), key: h.key, query: "&parents=true")
        let id = try h.create(["--volume", "data:/data:subpath=/x"])
        // The reader: every round reads the file and lists the mount's root into /tmp (the sandbox's own).
        let loop = try h.sh(id, """
            (while [ ! -e /tmp/stop ]; do
                { cat /data/inside.txt 2>&1 || echo "ERROR $?"; } >> /tmp/reads
                ls /data | tr '\\n' ' ' >> /tmp/lists; echo >> /tmp/lists
                sleep 0.02
            done; touch /tmp/stopped) >/dev/null 2>&1 </dev/null &
            """)
        XCTAssertEqual(loop.status, 0, loop.stderr)
        func reads() -> [String] { (h.inside(id, "/tmp/reads") ?? "").split(separator: "\n").map(String.init) }
        func waitForMoreReads(_ n: Int) {
            let before = reads().count
            XCTAssertTrue(SandboxHarness.wait(seconds: 60) { reads().count >= before + n }, "the reader goes on: \(reads().suffix(5))")
        }
        waitForMoreReads(5)

        // Another client renames /x away and makes a new /x with other content.
        let moved = try h.d.send("POST", "/v1/volumes/\(vol)/files/move", key: h.key, json: ["from": "/x", "to": "/x-old"])
        XCTAssertEqual(moved.status, 200, moved.text)
        try h.d.put(vol, "/x/inside.txt", Data("impostor\n".utf8), key: h.key, query: "&parents=true")
        try h.d.put(vol, "/x/planted.txt", Data("planted\n".utf8), key: h.key)
        waitForMoreReads(10)
        // Then a sibling moved to /x instead.
        XCTAssertEqual(try h.d.request("DELETE", "/v1/volumes/\(vol)/files?path=/x&recursive=true", key: h.key).status, 204)
        let sibling = try h.d.send("POST", "/v1/volumes/\(vol)/files/move", key: h.key, json: ["from": "/y", "to": "/x"])
        XCTAssertEqual(sibling.status, 200, sibling.text)
        waitForMoreReads(10)

        let now = try h.sh(id, "cat /data/inside.txt; ls /data; echo from-inside > /data/written.txt")
        XCTAssertEqual(now.status, 0, now.stderr)
        XCTAssertEqual(now.stdout, "inside\ndeep\ninside.txt\n", "the directory the mount resolved, by inode")
        XCTAssertEqual(try h.d.read(vol, "/x-old/written.txt", key: h.key).text, "from-inside\n", "a write lands in that directory, now /x-old")
        XCTAssertEqual(try h.d.read(vol, "/x/written.txt", key: h.key).status, 404)
        XCTAssertEqual(try h.sh(id, "touch /tmp/stop").status, 0)
        XCTAssertTrue(SandboxHarness.wait(seconds: 30) { h.inside(id, "/tmp/stopped") != nil }, "the reader stopped")
        let all = reads()
        XCTAssertGreaterThan(all.count, 25)
        XCTAssertEqual(Set(all), ["inside"], "every read through the mount saw the original directory: \(Set(all))")
        let lists = Set((h.inside(id, "/tmp/lists") ?? "").split(separator: "\n").map(String.init))
        XCTAssertEqual(lists, ["deep inside.txt ", "deep inside.txt written.txt "], "never the new /x, the sibling or the root: \(lists)")

        // A remount resolves the path again: after pause and resume the mount is what is at /x now (the sibling).
        XCTAssertEqual(try h.ctl(["sandbox", "pause", id]).status, 0)
        let resumed = try h.ctl(["sandbox", "resume", id])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertEqual(try h.attachments(id).first?["state"] as? String, "mounted")
        XCTAssertEqual(try h.sh(id, "cat /data/inside.txt").stdout, "sibling\n", "a remount serves what is at the subpath now")
        // With /x gone, resume fails the attachment with the reason, and nothing is at /data inside.
        XCTAssertEqual(try h.ctl(["sandbox", "pause", id]).status, 0)
        XCTAssertEqual(try h.d.request("DELETE", "/v1/volumes/\(vol)/files?path=/x&recursive=true", key: h.key).status, 204)
        XCTAssertEqual(try h.ctl(["sandbox", "resume", id]).status, 0)
        let att = try XCTUnwrap(try h.attachments(id).first)
        XCTAssertEqual(att["state"] as? String, "failed", "\(att)")
        XCTAssertEqual(att["reason"] as? String, "subpath_invalid", "\(att)")
        XCTAssertTrue((att["message"] as? String ?? "").contains("/x"), "the message names the subpath: \(att)")
        let empty = try h.sh(id, "ls -A /data | wc -l; cat /data/inside.txt")
        XCTAssertNotEqual(empty.status, 0)
        XCTAssertEqual(empty.stdout, "0\n", "nothing is mounted at /data: \(empty.stdout) \(empty.stderr)")
        XCTAssertEqual(try h.ctl(["sandbox", "destroy", id]).status, 0)
    }
}
