// Directory trees and exports on a daemon: a local tree streamed up as a tar.gz into PUT .../files/archive,
// and GET .../files/archive streamed down into a local tree or an export file, through the core's archive code.
import Foundation
import VolumeAPI
import VolumeClient
import VolumeCore

extension RemoteBackend {
    /// `upload DIR VOLUME:/PATH`: the local walk (and its drops) of the local upload, written as a tar.gz and
    /// unpacked by the daemon in one commit (a failed or cut upload leaves the volume as it was).
    func uploadTree(source: String, to loc: VolumeLocation, volumeId id: String, intoDest: Bool, user: FileOwner?,
                    bar: TransferProgressBar, quiet: Bool) throws -> (String, ImportReport) {
        let files = client.volume(id).files
        let dest = try VolumePath(loc.path)
        let (tree, directory) = try LocalTreeSource.upload(source, to: dest, intoDestination: intoDest)
        defer { bar.finish() }
        let options = TransferOptions(
            progress: { bar.update($0) },
            onDrop: { d in if !quiet { bar.log("volumectl: skipped '\(d.path)': \(d.reason)") } },
            isCancelled: TransferSignals.isCancelled)
        let (walked, answer) = try StreamBridge.upload(
            produce: { sink in try SourceArchiver.write(tree, to: sink, volumeId: id, destination: directory, options: options) },
            send: { chunks in try await files.uploadArchive(into: directory, archive: chunks, length: nil, user: user?.description) })
        // The daemon counts what it stored; the drops are the local walk's plus any of its own.
        var report = walked
        let s = answer.import
        report.destination = answer.path
        report.files = s.files
        report.directories = s.directories
        report.bytes = s.bytes
        report.replaced = s.replaced ?? 0
        for d in s.dropped {
            if !quiet { bar.log("volumectl: skipped '\(d.path)': \(d.reason)") }
            report.droppedByReason[d.reason.components(separatedBy: " (").first ?? d.reason, default: 0] += 1
            report.dropped.append(DroppedEntry(entry: d.entry, path: d.path, reason: d.reason))
        }
        if s.droppedCount > s.dropped.count { report.droppedByReason["(not listed)", default: 0] += s.droppedCount - s.dropped.count }
        report.droppedCount += s.droppedCount
        report.droppedTruncated = report.droppedTruncated || s.droppedTruncated
        return (id, report)
    }

    /// `download VOLUME:/DIR LOCAL`: the directory's tar.gz unpacked as it arrives by the local download's writer.
    func downloadTree(_ entry: EntryResponse, volumeId id: String, to destination: String, bar: TransferProgressBar) throws -> (String, ExportReport) {
        let files = client.volume(id).files
        let path = try VolumePath(entry.path)
        let mtime = Self.nanos(entry.modified)
        let top = LocalEntryAttributes(mode: UInt32(entry.mode, radix: 8) ?? 0o755, uid: entry.uid, gid: entry.gid, atime: mtime, mtime: mtime)
        let total: Int64? = path.isRoot ? (try? volumeInfo(id).sizeBytes) : nil
        let options = TransferOptions(progress: { bar.update($0) }, isCancelled: TransferSignals.isCancelled)
        defer { bar.finish() }
        let report = try StreamBridge.download(
            fetch: { try await files.downloadArchive(path.description) },
            consume: { input in
                try ArchiveExtractor.extract(from: input, volumeId: id, path: path, top: top, to: destination, total: total, options: options)
            })
        return (id, report)
    }

    /// `export VOLUME [--path P]`: the daemon's tar.gz of the path, counted and written out at `level` as the local export writes it.
    func export(_ ref: String, path: String, level: Int, options: TransferOptions, to output: ExportOutput) throws -> (String, ExportReport) {
        let info = try volumeInfo(ref)
        let id = info.volumeId
        let files = client.volume(id).files
        let entry = try statFollowing(files, try VolumePath(path).description)
        let p = try VolumePath(entry.path)
        let sink = try output.open()
        let total: Int64? = p.isRoot ? info.sizeBytes : nil
        let report = try StreamBridge.download(
            fetch: { try await files.downloadArchive(p.description) },
            consume: { input in
                try ArchiveRecompressor.copy(from: input, to: sink, level: level, volumeId: id, path: entry.path, total: total, options: options)
            })
        return (id, report)
    }

    /// The entry at `path` with its last component followed when it is a symlink, as the core's download and
    /// export resolve their path (the daemon's stat resolves the others and names the real path).
    func statFollowing(_ files: Files, _ path: String) throws -> EntryResponse {
        var entry = try blocking { try await files.stat(path) }
        var hops = 0
        while entry.type == "symlink", let target = entry.target {
            hops += 1
            guard hops <= 40 else { throw VolumeError.symlinkLoop(path) }
            var comps = target.hasPrefix("/") ? [] : Array(entry.path.split(separator: "/").dropLast().map(String.init))
            for c in target.split(separator: "/") {
                if c == "." { continue }
                if c == ".." { _ = comps.popLast(); continue }
                comps.append(String(c))
            }
            let next = "/" + comps.joined(separator: "/")
            entry = try blocking { try await files.stat(next) }
        }
        return entry
    }

    /// An ISO-8601 time (with or without a fraction) in nanoseconds since the epoch; 0 when unreadable.
    static func nanos(_ text: String) -> Nanos {
        guard let d = ISO8601DateFormatter.withFractions.date(from: text) ?? ISO8601DateFormatter().date(from: text) else { return 0 }
        return Nanos((d.timeIntervalSince1970 * 1000).rounded()) * 1_000_000
    }
}
