// The transfer commands on a daemon: single files up and down through the streamed content route, directory
// trees and exports through the tar.gz archive route (streamed through the core's tar and gzip code), and the
// Phase 1 import through the tar.gz create route.
import Foundation
import VolumeAPI
import VolumeClient
import VolumeCore

#if canImport(Glibc)
import Glibc
#endif

extension RemoteBackend {
    func upload(source: String, to loc: VolumeLocation, mode: UInt32, user: FileOwner?, bar: TransferProgressBar, quiet: Bool) throws -> (String, ImportReport) {
        let id = try volumeInfo(loc.volume).volumeId
        let files = client.volume(id).files
        let dest = try VolumePath(loc.path)
        let destText = dest.description
        let destEntry = try? blocking { try await files.stat(destText) }
        let intoDest = destEntry?.type == "dir" || loc.path.hasSuffix("/")
        let target: VolumePath
        var fileMode = mode
        var size: Int64? = nil
        if source == "-" {
            guard !intoDest else {
                throw VolumeError.isADirectory("\(loc.path) is a directory; give the path of the file to write, like \(loc.volume):\(dest.isRoot ? "" : dest.description)/data.bin")
            }
            guard !dest.isRoot else { throw VolumeError.isADirectory("/ is the volume root; give a file path") }
            target = dest
        } else {
            // The path given is followed when it is a symlink, as locally; anything but one file is a tree.
            var st = stat()
            guard stat(source, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
                return try uploadTree(source: source, to: loc, volumeId: id, intoDest: intoDest, user: user, bar: bar, quiet: quiet)
            }
            fileMode = UInt32(st.st_mode) & 0o7777
            size = Int64(st.st_size)
            if intoDest {
                target = try dest.appending(URL(fileURLWithPath: source).lastPathComponent)
            } else {
                guard !dest.isRoot else { throw VolumeError.invalidArgument("cannot upload onto the volume root") }
                target = dest
            }
        }
        let targetText = target.description
        let existed = (try? blocking { try await files.exists(targetText) }) ?? false
        let total = size
        let progress: @Sendable (Int64) -> Void = { n in
            bar.update(TransferProgress(bytesIn: n, totalIn: total, bytesOut: n, entries: 0, current: targetText, phase: "streaming"))
        }
        defer { bar.finish() }
        let modeText = String(fileMode, radix: 8)
        let path = source == "-" ? "/dev/stdin" : source
        let written = try blocking {
            try await files.write(targetText, stream: try FileChunks(path: path, progress: progress), length: total, parents: true, mode: modeText,
                                  user: user?.description)
        }
        var report = ImportReport(volumeId: id, destination: target.parent.description)
        report.entries = 1
        report.files = 1
        report.bytes = written.size
        report.replaced = existed ? 1 : 0
        report.inputBytes = written.size
        return (id, report)
    }

    func download(_ loc: VolumeLocation, to destination: String, bar: TransferProgressBar) throws -> (String, ExportReport) {
        let id = try volumeInfo(loc.volume).volumeId
        let files = client.volume(id).files
        // A symlink is followed, as locally: what is downloaded (and named) is its target.
        let entry = try statFollowing(files, try VolumePath(loc.path).description)
        if entry.type == "dir" { return try downloadTree(entry, volumeId: id, to: destination, bar: bar) }
        guard entry.type == "file" else {
            throw VolumeError.invalidArgument("\(entry.path) is a \(entry.type); download takes a file or a directory")
        }
        let source = try VolumePath(entry.path)
        let sourceText = source.description
        var target = destination
        if LocalFile.isDirectory(destination) { target = URL(fileURLWithPath: destination).appendingPathComponent(source.name).path }
        let total = entry.size
        let progress: @Sendable (Int64) -> Void = { n in
            bar.update(TransferProgress(bytesIn: n, totalIn: total, bytesOut: n, entries: 0, current: sourceText, phase: "streaming"))
        }
        defer { bar.finish() }
        let url = URL(fileURLWithPath: target)
        let bytes = try blocking { try await files.download(sourceText, to: url, progress: progress) }
        // Keep the mode and the modification time, as the local download does.
        if let m = UInt32(entry.mode, radix: 8) { chmod(target, mode_t(m)) }
        if let date = ISO8601DateFormatter.withFractions.date(from: entry.modified) ?? ISO8601DateFormatter().date(from: entry.modified) {
            try? FileManager.default.setAttributes([.modificationDate: date], ofItemAtPath: target)
        }
        var report = ExportReport(volumeId: id, path: source.description)
        report.files = 1
        report.bytes = bytes
        return (id, report)
    }

    func importArchive(blob: String, create: String?, volume: String?, path: String, owner: String?, user: FileOwner?,
                       bar: TransferProgressBar, quiet: Bool) throws -> (ImportReport, String, String?) {
        let destination = try VolumePath(path)
        let name = blob == "-" ? "standard input" : blob
        var size: Int64? = nil
        if blob != "-" {
            // Opened as the local import opens it, so a missing or unreadable blob gives the same error.
            let probe = try FileByteSource(path: blob)
            var st = stat()
            guard fstat(probe.fd, &st) == 0 else { throw LocalFile.error(errno, "cannot read '\(blob)'") }
            size = Int64(st.st_size)
            // Refuse an oversized blob before sending anything.
            if let s = size, s > phase1BlobLimit {
                throw VolumeError.tooLarge("\(name) is \(ByteSize.format(s)); a Phase 1 blob is at most \(ByteSize.format(phase1BlobLimit))")
            }
        }
        let total = size
        let progress: @Sendable (Int64) -> Void = { n in
            bar.update(TransferProgress(bytesIn: n, totalIn: total, bytesOut: 0, entries: 0, current: "", phase: "streaming"))
        }
        let client = owner == nil ? self.client : self.client.acting(for: owner)
        let path = blob == "-" ? "/dev/stdin" : blob
        // Into an existing volume, a new one below its root, or as a user: the archive route unpacks into
        // a directory (the Phase 1 create keeps the archive's owners).
        if create == nil || !destination.isRoot || user != nil {
            let volumeId: String
            var made: String? = nil
            if let create {
                volumeId = try createVolume(owner: owner, name: create, metadata: [:]).volumeId
                made = volumeId
            } else {
                volumeId = try volumeInfo(volume ?? "").volumeId
            }
            let files = client.volume(volumeId).files
            let dir = destination.description
            let answer: ArchiveUploadResponse
            do {
                defer { bar.finish() }
                answer = try blocking {
                    try await files.uploadArchive(into: dir, archive: try FileChunks(path: path, progress: progress), length: total, user: user?.description)
                }
            } catch {
                // A volume this command made holds nothing of a failed import: it goes again.
                if let made { _ = try? deleteVolume(made, force: false) }
                throw error
            }
            return (try importReport(answer.import, volumeId: volumeId, destination: answer.path, quiet: quiet, bar: bar), volumeId, made)
        }
        guard let create else { preconditionFailure("a create without --path returned above") }
        let answer: ImportedVolumeResponse
        do {
            defer { bar.finish() }
            answer = try blocking {
                let chunks = try FileChunks(path: path, progress: progress)
                do {
                    return try await client.volumes.create(name: create, archive: chunks, length: total)
                } catch let e as VolumeClientError where owner == nil && e.status == 400 && e.message.contains("X-Tenant") {
                    // An operator key with no --owner: the local mode imports for the tenant 'default'. A file can be
                    // sent again; standard input cannot.
                    guard path != "/dev/stdin" else { throw e }
                    return try await client.acting(for: "default").volumes.create(name: create, archive: try FileChunks(path: path, progress: progress),
                                                                                 length: total)
                }
            }
        }
        let report = try importReport(answer.import, volumeId: answer.volume.volumeId, destination: "/", quiet: quiet, bar: bar)
        return (report, answer.volume.volumeId, answer.volume.volumeId)
    }

    /// The core's import report from the daemon's summary (dropped entries logged unless `quiet`).
    private func importReport(_ s: ImportSummary, volumeId: String, destination: String, quiet: Bool, bar: TransferProgressBar) throws -> ImportReport {
        if !quiet { for d in s.dropped { bar.log("volumectl: dropped entry \(d.entry) '\(d.path)': \(d.reason)") } }
        var reasons: [String: Int] = [:]
        // The core counts by kind ("symbolic link"); an entry's reason may add details in parentheses.
        for d in s.dropped { reasons[d.reason.components(separatedBy: " (").first ?? d.reason, default: 0] += 1 }
        if s.droppedCount > s.dropped.count { reasons["(not listed)", default: 0] += s.droppedCount - s.dropped.count }
        var report = ImportReport(volumeId: volumeId, destination: destination)
        report.entries = s.files + s.directories + s.droppedCount
        report.files = s.files
        report.directories = s.directories
        report.bytes = s.bytes
        report.replaced = s.replaced ?? 0
        report.inputBytes = s.inputBytes
        report.droppedCount = s.droppedCount
        report.droppedByReason = reasons
        report.dropped = s.dropped.map { DroppedEntry(entry: $0.entry, path: $0.path, reason: $0.reason) }
        report.droppedTruncated = s.droppedTruncated
        return report
    }
}

extension ISO8601DateFormatter {
    /// ISO-8601 with fractional seconds, as the daemon writes times.
    nonisolated(unsafe) static let withFractions: ISO8601DateFormatter = {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f
    }()
}
