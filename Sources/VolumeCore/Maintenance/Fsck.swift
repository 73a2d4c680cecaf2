// fsck: checks (and with repair, fixes) one volume's catalog invariants, its chunks and its usage figures.
import Foundation
import GRDB

/// What fsck found in one volume.
public struct FsckReport: Codable, Sendable, Equatable {
    public var volumeId: String
    /// Each problem, one line.
    public var problems: [String]
    /// What `repair` changed.
    public var repaired: [String]
    public var inodes: Int
    public var chunksChecked: Int
    /// Clean, or every problem repaired (after a full repair, `problems` lists what was repaired).
    public var ok: Bool { problems.isEmpty || problems == repaired }

    enum CodingKeys: String, CodingKey { case volumeId = "volume_id", problems, repaired, inodes, chunksChecked = "chunks_checked", ok }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(volumeId, forKey: .volumeId)
        try c.encode(problems, forKey: .problems)
        try c.encode(repaired, forKey: .repaired)
        try c.encode(inodes, forKey: .inodes)
        try c.encode(chunksChecked, forKey: .chunksChecked)
        try c.encode(ok, forKey: .ok)
    }
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        volumeId = try c.decode(String.self, forKey: .volumeId)
        problems = try c.decode([String].self, forKey: .problems)
        repaired = try c.decode([String].self, forKey: .repaired)
        inodes = try c.decode(Int.self, forKey: .inodes)
        chunksChecked = try c.decode(Int.self, forKey: .chunksChecked)
    }
    init(volumeId: String) { self.volumeId = volumeId; problems = []; repaired = []; inodes = 0; chunksChecked = 0 }
}

extension Volume {
    /// Checks the catalog: SQLite integrity, the tree (every inode reachable, link counts), blocks
    /// (inside the file, chunk present, right size, and with `verifyData` hashing to its name) and
    /// the usage figures. With `repair`, fixes what can be fixed without guessing: usage figures and
    /// link counts, unreachable inodes (deleted), blocks whose chunk is missing (become holes).
    public func fsck(repair: Bool = false, verifyData: Bool = true) throws -> FsckReport {
        try flushAll()
        var report = FsckReport(volumeId: id)
        let bs = blockSize
        // Phase 1: read everything in one snapshot.
        struct Snapshot {
            var inodes: [UInt64: Attributes] = [:]
            var links: [UInt64: Int] = [:]
            var subdirs: [UInt64: Int] = [:]
            var entries: [(parent: UInt64, ino: UInt64)] = []
            var blocks: [(ino: UInt64, idx: Int, ref: BlockRef)] = []
            var orphans: Set<UInt64> = []
            var usage: Int64 = 0, files: Int64 = 0
            var integrity: [String] = []
        }
        let snap = try read { db -> Snapshot in
            var s = Snapshot()
            s.integrity = try String.fetchAll(db, sql: "PRAGMA integrity_check").filter { $0 != "ok" }
            let fk = try Row.fetchAll(db, sql: "PRAGMA foreign_key_check")
            s.integrity += fk.map { "foreign key violation in \($0[0] as String) row \($0[1] as Int64? ?? -1)" }
            for r in try Row.fetchAll(db, sql: "SELECT ino, kind, mode, uid, gid, size, nlink, atime, mtime, ctime, rdev FROM inode") {
                let a = Catalog.attributes(from: r)
                s.inodes[a.ino] = a
            }
            for r in try Row.fetchAll(db, sql: "SELECT parent, ino FROM dentry") {
                let p = UInt64(r[0] as Int64), i = UInt64(r[1] as Int64)
                s.entries.append((p, i))
                s.links[i, default: 0] += 1
            }
            for r in try Row.fetchAll(db, sql: "SELECT ino, idx, chunk, len FROM block") {
                s.blocks.append((UInt64(r[0] as Int64), r[1], BlockRef(chunk: ChunkID(bytes: r[2])!, len: r[3])))
            }
            s.orphans = Set(try Int64.fetchAll(db, sql: "SELECT ino FROM orphan").map(UInt64.init))
            s.usage = try Catalog.meta(db, .usageBytes)
            s.files = try Catalog.meta(db, .fileCount)
            return s
        }
        report.inodes = snap.inodes.count
        report.problems += snap.integrity.map { "sqlite: \($0)" }
        var s = snap
        for e in s.entries where s.inodes[e.ino]?.kind == .directory { s.subdirs[e.parent, default: 0] += 1 }

        var fixLinks: [(UInt64, Int)] = []
        var unreachable: [Attributes] = []
        var holes: [(UInt64, Int)] = []
        guard let root = s.inodes[Catalog.rootIno], root.kind == .directory else {
            report.problems.append("the root directory (inode 1) is missing or not a directory")
            return report
        }
        _ = root
        // Reachability from the root.
        var children: [UInt64: [UInt64]] = [:]
        for e in s.entries {
            if let p = s.inodes[e.parent], p.kind != .directory {
                report.problems.append("inode \(e.parent) has entries but is not a directory")
            }
            children[e.parent, default: []].append(e.ino)
        }
        var seen: Set<UInt64> = [Catalog.rootIno]
        var queue = [Catalog.rootIno]
        while let d = queue.popLast() {
            for c in children[d] ?? [] where seen.insert(c).inserted {
                if s.inodes[c]?.kind == .directory { queue.append(c) }
            }
        }
        for (ino, a) in s.inodes.sorted(by: { $0.key < $1.key }) {
            let names = s.links[ino] ?? 0
            if ino == Catalog.rootIno {
                let want = 2 + (s.subdirs[ino] ?? 0)
                if a.nlink != want { report.problems.append("root has nlink \(a.nlink), expected \(want)"); fixLinks.append((ino, want)) }
                continue
            }
            if !seen.contains(ino) {
                if a.nlink == 0 && s.orphans.contains(ino) { continue } // unlinked while open
                report.problems.append("inode \(ino) (\(a.kind.apiName)) is not reachable from the root")
                unreachable.append(a)
                continue
            }
            if a.kind == .directory {
                if names != 1 { report.problems.append("directory inode \(ino) has \(names) names") }
                let want = 2 + (s.subdirs[ino] ?? 0)
                if a.nlink != want { report.problems.append("directory inode \(ino) has nlink \(a.nlink), expected \(want)"); fixLinks.append((ino, want)) }
            } else if a.nlink != names {
                report.problems.append("inode \(ino) has nlink \(a.nlink) but \(names) names")
                fixLinks.append((ino, names))
            }
        }
        // Blocks and chunks.
        var verified: Set<ChunkID> = []
        for b in s.blocks {
            guard let a = s.inodes[b.ino] else { continue }
            if a.kind != .file { report.problems.append("inode \(b.ino) is a \(a.kind.apiName) but has blocks") }
            if b.ref.len > bs { report.problems.append("inode \(b.ino) block \(b.idx) is \(b.ref.len) bytes, over the block size \(bs)") }
            if Int64(b.idx) * Int64(bs) >= a.size {
                report.problems.append("inode \(b.ino) block \(b.idx) lies past the end of the file (size \(a.size))")
            }
            guard let size = try chunks.size(of: b.ref.chunk) else {
                report.problems.append("inode \(b.ino) block \(b.idx) references missing chunk \(b.ref.chunk.short)")
                holes.append((b.ino, b.idx))
                continue
            }
            if size != b.ref.len {
                report.problems.append("chunk \(b.ref.chunk.short) is \(size) bytes, block \(b.idx) of inode \(b.ino) says \(b.ref.len)")
            }
            if verifyData, verified.insert(b.ref.chunk).inserted {
                report.chunksChecked += 1
                do { _ = try chunks.read(b.ref.chunk) } catch {
                    report.problems.append("chunk \(b.ref.chunk.short) (inode \(b.ino) block \(b.idx)) fails verification: \(error)")
                }
            }
        }
        // Usage figures.
        let liveUsage = s.inodes.values.filter { seen.contains($0.ino) || s.orphans.contains($0.ino) }.reduce(Int64(0)) { $0 + Catalog.usage(of: $1) }
        let liveFiles = Int64(s.inodes.values.filter { ($0.kind == .file) && (seen.contains($0.ino) || s.orphans.contains($0.ino)) }.count)
        let usageWrong = s.usage != liveUsage, filesWrong = s.files != liveFiles
        if usageWrong { report.problems.append("usage is recorded as \(s.usage) bytes but the files hold \(liveUsage)") }
        if filesWrong { report.problems.append("file count is recorded as \(s.files) but there are \(liveFiles)") }

        guard repair, !report.problems.isEmpty else { return report }
        try mutate(origin: 0) { db, _ in
            for (ino, n) in fixLinks {
                try db.execute(sql: "UPDATE inode SET nlink = ? WHERE ino = ?", arguments: [n, Int64(ino)])
                report.repaired.append("set nlink of inode \(ino) to \(n)")
            }
            for a in unreachable {
                try db.execute(sql: "DELETE FROM dentry WHERE parent = ? OR ino = ?", arguments: [Int64(a.ino), Int64(a.ino)])
                // With its blocks, xattrs and orphan mark; the usage figures are set below.
                try Catalog.deleteInode(db, a)
                report.repaired.append("deleted unreachable inode \(a.ino)")
            }
            for (ino, idx) in holes {
                try Catalog.deleteBlock(db, ino, idx)
                report.repaired.append("block \(idx) of inode \(ino) is now a hole (its chunk was missing)")
            }
            if usageWrong || filesWrong || !unreachable.isEmpty {
                try Catalog.setMeta(db, .usageBytes, liveUsage)
                try Catalog.setMeta(db, .fileCount, liveFiles)
                report.repaired.append("set usage to \(liveUsage) bytes and file count to \(liveFiles)")
            }
        }
        // Re-check: what is still wrong stays a problem (chunks are re-verified, since repair cannot fix their bytes).
        let after = try fsck(repair: false, verifyData: verifyData)
        report.problems = after.problems.isEmpty ? report.repaired : after.problems
        return report
    }

    /// Every chunk the catalog references (for gc's mark phase).
    func referencedChunks() throws -> Set<ChunkID> {
        try read { db in
            var out: Set<ChunkID> = []
            let rows = try Data.fetchCursor(db, sql: "SELECT DISTINCT chunk FROM block")
            while let d = try rows.next() { if let id = ChunkID(bytes: d) { out.insert(id) } }
            return out
        }
    }
}
