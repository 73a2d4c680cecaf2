// The one streaming write of a whole file: what `files put`, `upload -`, the daemon's PUT and a signed PUT all call.
import Foundation

extension Volume {
    /// What a whole-file write finds before it reads a byte: the mode of the file it will replace (nil
    /// when nothing is there). Throws `notFound`/`notADirectory` when the parent is missing or not a
    /// directory (unless `createParents`), and `isADirectory` when `path` is a directory or the root.
    public func prepareStreamedWrite(_ path: VolumePath, createParents: Bool) throws -> UInt32? {
        guard !path.isRoot else { throw VolumeError.isADirectory("/ is the volume root; give a file path") }
        if !createParents {
            let parent = try stat(path.parent.description)
            guard parent.type == "dir" else { throw VolumeError.notADirectory(path.parent.description) }
        }
        guard let e = try? stat(path.description) else { return nil }
        if e.type == "dir" { throw VolumeError.isADirectory(path.description) }
        return UInt32(e.mode, radix: 8) ?? 0o644
    }

    /// Creates or replaces the file at `path` with the bytes of `source`, a one-file import source named
    /// `path.name` (its bytes arrive as they are read: never held whole). The bytes are stored as they
    /// come and the file appears in one commit at the end, cap-checked, with missing parents made; an
    /// error, a short or cut source, or the cap leave the old content. The volume's write lock is not
    /// held while the source is slow (a client streaming, a pipe). Returns the import's report: its
    /// `bytes` is the file's size.
    @discardableResult
    public func writeFile(_ path: VolumePath, streaming source: ImportSource,
                          options: TransferOptions = TransferOptions()) throws -> ImportReport {
        guard !path.isRoot else { throw VolumeError.isADirectory("/ is the volume root; give a file path") }
        var options = options
        options.holdWriteLockWhenEmpty = false
        return try importTree(from: source, into: path.parent.description, options: options)
    }
}
