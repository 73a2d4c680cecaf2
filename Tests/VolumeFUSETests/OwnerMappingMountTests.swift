// The owner mapping of a mount, through the kernel: stored root shown as the sandbox user, its creates and chowns stored as root, nosuid.
import Foundation
import VolumeCore
import VolumeFUSE
import VolumeTestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

final class OwnerMappingMountTests: MountTestCase {
    let sandboxUser = FileOwner(uid: 1000, gid: 1000)

    func mapped(_ owner: FileOwner) -> MountOptions {
        var o = MountOptions()
        o.ownerMapping = OwnerMapping(owner)
        return o
    }

    /// A volume filled as root (the files API's default), as E2B's users find it: a root-owned root
    /// directory, a root-owned file and directory, and one file stored as the sandbox user's.
    func filledAsRoot() throws -> TestStore {
        let ts = try TestStore(commitWindow: StoreOptions.mountCommitWindow)
        try ts.volume.writeFile("/data.csv", data: Data("a,b\n".utf8))
        try ts.volume.makeDirectory("/results")
        try ts.volume.writeFile("/theirs.txt", data: Data("x".utf8), caller: Caller(uid: 1000, gid: 1000))
        return ts
    }

    /// The problem the issue names: without a mapping, an unprivileged sandbox user cannot create
    /// anything in a volume the API filled as root. With the mapping, the same process can create,
    /// write, chmod and delete there.
    func testTheSandboxUserCanWriteTheRootFilledVolumeOnlyThroughTheMapping() throws {
        let ts = try filledAsRoot()
        defer { ts.remove() }
        try withMount(ts.volume) { m in
            let r = try sh("touch new.txt", cwd: m.mountpoint, uid: 1000, check: false)
            XCTAssertNotEqual(r.status, 0)
            XCTAssertTrue(r.stderr.contains("Permission denied"), r.stderr)
        }
        try withMount(ts.volume, options: mapped(sandboxUser)) { m in
            try sh("""
                echo hello > new.txt && chmod 600 new.txt && cat new.txt >/dev/null && mkdir made && echo more >> data.csv \
                && chmod 700 results && touch results/inside && rm theirs.txt
                """, cwd: m.mountpoint, uid: 1000)
        }
        // Stored as root: the sandbox user's ids went through the swap.
        let created = try ts.volume.attributes(at: "/new.txt")
        XCTAssertEqual([created.uid, created.gid, created.mode], [0, 0, 0o600])
        let made = try ts.volume.attributes(at: "/made")
        XCTAssertEqual([made.uid, made.gid], [0, 0])
        XCTAssertEqual(try ts.volume.attributes(at: "/results").mode, 0o700)
        XCTAssertEqual(try ts.volume.readFile("/data.csv"), Data("a,b\nmore\n".utf8))
        XCTAssertFalse(try ts.volume.exists("/theirs.txt"))
        assertFsckClean(ts)
    }

    /// What the kernel sees: stored 0 is the sandbox user, stored 1000 is root, other ids as they
    /// are; chown inside the mount names presented ids and stores them swapped back.
    func testOwnersAreSwappedBothWaysAndOthersKept() throws {
        let ts = try filledAsRoot()
        defer { ts.remove() }
        try ts.volume.writeFile("/other.txt", data: Data(), caller: Caller(uid: 2000, gid: 3000))
        try withMount(ts.volume, options: mapped(sandboxUser)) { m in
            let root = try Sys.stat(m.mountpoint)
            XCTAssertEqual([root.st_uid, root.st_gid], [1000, 1000], "the volume root, stored as root")
            let data = try Sys.stat(m.mountpoint + "/data.csv")
            XCTAssertEqual([data.st_uid, data.st_gid], [1000, 1000])
            let theirs = try Sys.stat(m.mountpoint + "/theirs.txt")
            XCTAssertEqual([theirs.st_uid, theirs.st_gid], [0, 0], "stored as 1000: shown as root (the swap)")
            let other = try Sys.stat(m.mountpoint + "/other.txt")
            XCTAssertEqual([other.st_uid, other.st_gid], [2000, 3000])
            // The listing (readdirplus) shows the same.
            var listed: [String: String] = [:]
            for line in try sh("ls -ln", cwd: m.mountpoint).stdout.split(separator: "\n") {
                let f = line.split(separator: " ")
                if f.count >= 9 { listed[String(f[8])] = "\(f[2]):\(f[3])" }
            }
            XCTAssertEqual(listed, ["data.csv": "1000:1000", "results": "1000:1000", "theirs.txt": "0:0", "other.txt": "2000:3000"])
            // chown by root inside the mount: to the sandbox user is stored as root, to root as 1000.
            try Sys.chown(m.mountpoint + "/other.txt", 1000, 1000)
            try Sys.chown(m.mountpoint + "/data.csv", 0, 0)
            XCTAssertEqual(try Sys.stat(m.mountpoint + "/data.csv").st_uid, 0)
        }
        let other = try ts.volume.attributes(at: "/other.txt")
        XCTAssertEqual([other.uid, other.gid], [0, 0])
        let data = try ts.volume.attributes(at: "/data.csv")
        XCTAssertEqual([data.uid, data.gid], [1000, 1000])
        assertFsckClean(ts)
    }

    /// A setuid program in a volume never gives root: the mount is nosuid. Here a copy of `id`
    /// stored as uid 1000 with mode 4755 is shown as a setuid-root file through the mapping (an API
    /// writer with user=1000 could make exactly that); run by the sandbox user, it stays uid 1000.
    func testASetuidRootFileGivesNoRoot() throws {
        let ts = try TestStore(commitWindow: StoreOptions.mountCommitWindow)
        defer { ts.remove() }
        let id = try Data(contentsOf: URL(fileURLWithPath: "/usr/bin/id"))
        try ts.volume.writeFile("/id", data: id, mode: 0o4755, caller: Caller(uid: 1000, gid: 1000))
        try withMount(ts.volume, options: mapped(sandboxUser)) { m in
            let st = try Sys.stat(m.mountpoint + "/id")
            XCTAssertEqual(st.st_uid, 0)
            XCTAssertEqual(st.st_mode & 0o7777, 0o4755)
            let line = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8).split(separator: "\n")
                .first { $0.split(separator: " ").count > 5 && String($0.split(separator: " ")[4]) == m.mountpoint }
            XCTAssertTrue(line.map { $0.split(separator: " ")[5].split(separator: ",").contains("nosuid") } ?? false,
                          "the mount options: \(line.map(String.init) ?? "no mountinfo line")")
            XCTAssertEqual(try sh(q(m.mountpoint + "/id") + " -u", uid: 1000).stdout.trimmingCharacters(in: .whitespacesAndNewlines), "1000")
        }
    }
}
