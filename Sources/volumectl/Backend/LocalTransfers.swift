// The transfer commands on a data directory: upload and download of trees, export, and the Phase 1 import, in this process.
import Foundation
import VolumeCore

extension LocalBackend {
    func upload(source: String, to loc: VolumeLocation, mode: UInt32, user: FileOwner?, bar: TransferProgressBar, quiet: Bool) throws -> (String, ImportReport) {
        try global.withStore { store -> (String, ImportReport) in
            let id = try store.resolve(loc.volume, owner: global.scope)
            let vol = try store.volume(id, owner: global.scope)
            let dest = try VolumePath(loc.path)
            let destIsDir = (try? vol.stat(dest.description).type == "dir") ?? false
            let intoDest = destIsDir || loc.path.hasSuffix("/")
            var options = TransferOptions(
                progress: { bar.update($0) },
                onDrop: { d in if !quiet { bar.log("volumectl: skipped '\(d.path)': \(d.reason)") } },
                isCancelled: TransferSignals.isCancelled)
            options.writeAs(user)
            if source == "-" {
                guard !intoDest else {
                    throw VolumeError.isADirectory("\(loc.path) is a directory; give the path of the file to write, like \(loc.volume):\(dest.isRoot ? "" : dest.description)/data.bin")
                }
                // Standard input is one file: the streaming write that `files put` and the daemon's PUT use.
                _ = try vol.prepareStreamedWrite(dest, createParents: true)
                let input = FileByteSource(fd: 0, name: "standard input", isCancelled: TransferSignals.isCancelled)
                defer { bar.finish() }
                let source = try StreamFileSource(input: input, name: dest.name, mode: mode, owner: user)
                return (id, try store.withLease(volume: id, purpose: .import) { try vol.writeFile(dest, streaming: source, options: options) })
            }
            let (importSource, directory) = try LocalTreeSource.upload(source, to: dest, intoDestination: intoDest)
            importSource.owner = user
            defer { bar.finish() }
            // An import lease, as every import into an existing volume holds: a deletion is refused meanwhile.
            return (id, try store.withLease(volume: id, purpose: .import) {
                let run = { try vol.importTree(from: importSource, into: directory, options: options) }
                // One file reports the cap as `files put` and the daemon's PUT do.
                return importSource.isFile ? try vol.asOneFile(run) : try run()
            })
        }
    }

    func download(_ loc: VolumeLocation, to destination: String, bar: TransferProgressBar) throws -> (String, ExportReport) {
        try global.withStore { store in
            let id = try store.resolve(loc.volume, owner: global.scope)
            let vol = try store.volume(id, owner: global.scope)
            return (id, try vol.download(loc.path, to: destination,
                                         options: TransferOptions(progress: { bar.update($0) }, isCancelled: TransferSignals.isCancelled)))
        }
    }

    func export(_ ref: String, path: String, level: Int, options: TransferOptions, to output: ExportOutput) throws -> (String, ExportReport) {
        try global.withStore { store in
            let id = try store.resolve(ref, owner: global.scope)
            let vol = try store.volume(id, owner: global.scope)
            _ = try VolumePath(path)
            return (id, try vol.exportArchive(path, to: try output.open(), level: level, options: options))
        }
    }

    func importArchive(blob: String, create: String?, volume: String?, path: String, owner: String?, user: FileOwner?,
                       bar: TransferProgressBar, quiet: Bool) throws -> (ImportReport, String, String?) {
        let name = blob == "-" ? "standard input" : blob
        let input: FileByteSource
        if blob == "-" {
            input = FileByteSource(fd: 0, name: name, limit: phase1BlobLimit, isCancelled: TransferSignals.isCancelled)
        } else {
            input = try FileByteSource(path: blob, limit: phase1BlobLimit, isCancelled: TransferSignals.isCancelled)
        }
        // Refuse an oversized blob before touching any volume.
        if let size = input.knownSize, size > phase1BlobLimit {
            throw VolumeError.tooLarge("\(name) is \(ByteSize.format(size)); a Phase 1 blob is at most \(ByteSize.format(phase1BlobLimit))")
        }
        return try global.withStore { store -> (ImportReport, String, String?) in
            // With --create the volume stays hidden until its import lands; if this process dies
            // first, even by SIGKILL, the next store open removes it.
            let vol: Volume
            // An import into an existing volume holds an import lease: a deletion waits for it
            // (or is refused), and a volume being deleted refuses the import.
            var lease: Lease?
            defer { if let lease { _ = try? store.releaseLease(lease.id) } }
            if let create {
                let meta = blob == "-" ? [:] : ["imported_from": URL(fileURLWithPath: blob).lastPathComponent]
                vol = try store.createHiddenVolume(owner: owner ?? "default", name: create, metadata: meta)
            } else {
                vol = try store.volume(try store.resolve(volume!, owner: global.scope), owner: global.scope)
                lease = try store.acquireLease(volume: vol.id, purpose: .import)
            }
            let createdID = create == nil ? nil : vol.id
            do {
                var options = TransferOptions(
                    progress: { bar.update($0) },
                    onDrop: { d in if !quiet { bar.log("volumectl: dropped entry \(d.entry) '\(d.path)': \(d.reason)") } },
                    isCancelled: TransferSignals.isCancelled)
                options.writeAs(user)
                let report = try vol.importArchive(from: input, name: name, totalBytes: input.knownSize, into: path, options: options)
                if let id = createdID { _ = try store.publishVolume(id) }
                return (report, vol.id, createdID)
            } catch {
                if let id = createdID { try? store.discardHiddenVolume(id) }
                throw error
            }
        }
    }
}
