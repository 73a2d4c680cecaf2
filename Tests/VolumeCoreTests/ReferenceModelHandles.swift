// The reference model's open handles: which process holds which file open, what each process has
// buffered for it, and the files unlinked while open.
import Foundation

/// Open handles beside `FileModel`, with the rules the volume keeps written out plainly:
/// a process's handles on one file share its buffered writes (one `OpenFile` per file per
/// process); those take effect when any of them flushes or closes, over the file as it is then;
/// a truncate or a path write in the same process commits them first; a file removed or renamed
/// over while open lives on, unnamed, until its last handle closes.
struct HandleModel {
    struct Handle {
        var process: Int
        var ino: UInt64
    }

    struct Key: Hashable {
        var process: Int
        var ino: UInt64
    }

    var handles: [Handle] = []
    /// The path of each open file that still has one.
    var paths: [UInt64: String] = [:]
    /// The bytes of each open file that was unlinked.
    var orphans: [UInt64: Data] = [:]
    /// Writes each process has buffered for a file, in order.
    var pending: [Key: [(offset: Int, data: Data)]] = [:]

    var usage: Int64 { orphans.values.reduce(0) { $0 + Int64($1.count) } }
    var anyPending: Bool { pending.values.contains { !$0.isEmpty } }

    func ino(at path: String) -> UInt64? { paths.first { $0.value == path }?.key }

    mutating func open(process: Int, ino: UInt64, path: String) {
        handles.append(Handle(process: process, ino: ino))
        if orphans[ino] == nil { paths[ino] = path }
    }

    mutating func buffer(process: Int, ino: UInt64, offset: Int, data: Data) {
        pending[Key(process: process, ino: ino), default: []].append((offset, data))
    }

    /// Applies what `process` has buffered for `ino`, in order, to the file as it now is.
    mutating func commit(process: Int, ino: UInt64, files: inout FileModel) {
        guard let writes = pending.removeValue(forKey: Key(process: process, ino: ino)) else { return }
        for w in writes {
            if let p = paths[ino] {
                files.writeAt(p, w.offset, w.data)
            } else if var d = orphans[ino] {
                if d.count < w.offset + w.data.count { d.append(Data(count: w.offset + w.data.count - d.count)) }
                d.replaceSubrange(w.offset..<(w.offset + w.data.count), with: w.data)
                orphans[ino] = d
            }
        }
    }

    /// Commits the writes `process` buffered for the file at `path`, if it has it open (what a
    /// truncate or path write there does first).
    mutating func commit(process: Int, at path: String, files: inout FileModel) {
        if let ino = ino(at: path) { commit(process: process, ino: ino, files: &files) }
    }

    /// Closes handle `i`: commits its process's writes, and the last handle of an unlinked file deletes it.
    mutating func close(_ i: Int, files: inout FileModel) {
        let h = handles.remove(at: i)
        commit(process: h.process, ino: h.ino, files: &files)
        if !handles.contains(where: { $0.ino == h.ino }) {
            paths[h.ino] = nil
            orphans[h.ino] = nil
        }
    }

    /// The bytes `process` reads from the file at `path` whose committed bytes are `committed`.
    func view(process: Int, path: String, committed: Data) -> Data {
        guard let ino = ino(at: path), let writes = pending[Key(process: process, ino: ino)] else { return committed }
        var d = committed
        for w in writes {
            if d.count < w.offset + w.data.count { d.append(Data(count: w.offset + w.data.count - d.count)) }
            d.replaceSubrange(w.offset..<(w.offset + w.data.count), with: w.data)
        }
        return d
    }

    /// The bytes `process` reads through handle `h`.
    func view(_ h: Handle, files: FileModel) -> Data? {
        if let p = paths[h.ino], case .file(let d) = files.nodes[p] { return view(process: h.process, path: p, committed: d) }
        return nil
    }

    /// Before `files` (not yet changed) loses the names `gone`: open files there become orphans.
    mutating func unlink(_ gone: [String], files: FileModel) {
        for (ino, p) in paths where gone.contains(p) {
            if case .file(let d) = files.nodes[p] { orphans[ino] = d }
            paths[ino] = nil
        }
    }

    /// After `src` moved to `dst`: open files at or below `src` are there now.
    mutating func moved(_ src: String, _ dst: String) {
        for (ino, p) in paths where p == src || p.hasPrefix(src + "/") {
            paths[ino] = dst + p.dropFirst(src.count)
        }
    }
}
