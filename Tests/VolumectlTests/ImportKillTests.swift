// SIGKILL in the middle of `volumectl import --create`: the half-made volume is never seen and is gone afterwards.
import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

final class ImportKillTests: XCTestCase {
    /// A tar.gz of 32 files of 512 KiB of random bytes (each a chunk file of its own), made by Python's tarfile.
    private func makeArchive(_ cli: CLI) throws -> String {
        let path = cli.local("random.tar.gz")
        let script = """
            import io, os, sys, tarfile
            with tarfile.open(sys.argv[1], 'w:gz', compresslevel=1) as t:
                for i in range(32):
                    data = os.urandom(512 * 1024)
                    info = tarfile.TarInfo('d%d/f%02d.bin' % (i % 4, i))
                    info.size = len(data)
                    t.addfile(info, io.BytesIO(data))
            """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", script, path]
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "python3 could not write the archive")
        return path
    }

    /// Files under the chunk store's chunk directories (chunks over 64 KiB).
    private func chunkFileCount(_ cli: CLI) -> Int {
        let root = cli.dataDir + "/chunks/chunks"
        return ((try? FileManager.default.subpathsOfDirectory(atPath: root)) ?? []).filter { $0.count > 3 }.count
    }

    private func catalogs(_ cli: CLI) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: cli.dataDir + "/volumes")) ?? []).filter { $0.hasSuffix(".sqlite") }
    }

    private func names(_ cli: CLI) throws -> [String] {
        try cli.ok("volume", "list", "--json").jsonArray().compactMap { $0["name"] as? String }
    }

    func testKilledCreateImportLeavesNoVolume() throws {
        let cli = try CLI()
        _ = try cli.createVolume("other")
        let archive = try makeArchive(cli)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: archive))

        // The archive goes in through a pipe, and only its first 3/4: the importer is then certainly
        // mid-import (waiting for the rest) when it is killed, however fast or slow this machine is.
        let p = Process()
        p.executableURL = try CLI.binary.get()
        p.arguments = ["import", "-", "--create", "doomed", "--quiet"]
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("VOLUMES_") }
        env["VOLUMES_DATA_DIR"] = cli.dataDir
        p.environment = env
        let input = Pipe()
        p.standardInput = input
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let writer = Thread {
            try? input.fileHandleForWriting.write(contentsOf: bytes.prefix(bytes.count * 3 / 4))
        }
        writer.start()

        // Progress: chunk files appear as the importer stores file contents.
        let deadline = Date().addingTimeInterval(120)
        while chunkFileCount(cli) < 8 && p.isRunning && Date() < deadline { usleep(20_000) }
        XCTAssertTrue(p.isRunning, "the importer stopped before it was killed")
        XCTAssertGreaterThanOrEqual(chunkFileCount(cli), 8, "no progress from the importer")

        // While it runs, the new volume is hidden but its name is taken.
        XCTAssertEqual(catalogs(cli).count, 2, "the importing volume has a catalog")
        XCTAssertEqual(try names(cli), ["other"])
        try cli.fails(4, "volume", "create", "doomed", mentioning: ["an import is creating"])

        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        try? input.fileHandleForWriting.close()
        XCTAssertEqual(p.terminationReason, .uncaughtSignal)

        // Afterwards: not listed, its catalog removed, the name free, and every volume clean.
        XCTAssertEqual(try names(cli), ["other"])
        XCTAssertEqual(catalogs(cli).count, 1, "the dead import's catalog is removed")
        let r = try cli.ok("import", archive, "--create", "doomed", "--json", "--quiet")
        XCTAssertEqual(try r.jsonObject()["files"] as? Int, 32)
        XCTAssertEqual(try names(cli).sorted(), ["doomed", "other"])
        let fsck = try cli.ok("fsck", "--json").jsonArray()
        XCTAssertEqual(fsck.count, 2)
        XCTAssertTrue(fsck.allSatisfy { $0["ok"] as? Bool == true }, "\(fsck)")
    }
}
