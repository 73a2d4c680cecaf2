// The kernel's side of the bookkeeping: lookup counts per node, and what the kernel may have cached.
import Foundation
import Synchronization
import VolumeCore

/// What the kernel holds for one mount: a lookup count per node ID (libfuse's rule: every entry
/// reply adds one, `forget` takes `n` away, the node is gone at zero), the ctime the kernel was last
/// told, and for directories the names it may have cached as entries.
///
/// The counts decide which nodes are worth invalidating, and the ctimes and names let the
/// cross-process poller find what another process changed without a log of changes. A node that
/// is forgotten takes its names out of its parents, so the table holds only what the kernel holds
/// (a mount that creates and deletes files all day used to keep every name it ever saw).
final class NodeTable: Sendable {
    struct Node {
        var lookups: UInt64 = 0
        var ctime: Nanos = 0
        var isDirectory = false
        /// Names looked up (or listed with attributes) in this directory, and the node each named.
        var children: [Data: UInt64] = [:]
        /// Where this node was entered (parent and name): usually one place, more for hard links.
        var names: [Entry] = []
    }

    struct Entry: Equatable {
        var parent: UInt64
        var name: Data
    }

    private let nodes = Mutex<[UInt64: Node]>([MountView.rootIno: Node(lookups: 1, isDirectory: true)])

    /// Records an entry reply for `attrs` found as `name` in `parent`: one more lookup.
    func entered(_ attrs: Attributes, parent: UInt64, name: Data) {
        nodes.withLock { map in
            var n = map[attrs.ino] ?? Node()
            n.lookups += 1
            n.ctime = attrs.ctime
            n.isDirectory = attrs.kind == .directory
            // Names renamed or dropped since stay out (so a node renamed over and over keeps one).
            n.names.removeAll { map[$0.parent]?.children[$0.name] != attrs.ino }
            let entry = Entry(parent: parent, name: name)
            if !n.names.contains(entry) { n.names.append(entry) }
            map[attrs.ino] = n
            map[parent]?.children[name] = attrs.ino
        }
    }

    /// Records attributes the kernel was told (getattr, setattr) without a new lookup.
    func told(_ attrs: Attributes) {
        nodes.withLock { map in map[attrs.ino]?.ctime = attrs.ctime }
    }

    /// Drops `count` lookups of `ino`; forgets the node at zero, and the names its parents cached
    /// for it. The root is never forgotten.
    func forget(_ ino: UInt64, _ count: UInt64) {
        nodes.withLock { map in
            guard ino != MountView.rootIno, var n = map[ino] else { return }
            n.lookups = n.lookups > count ? n.lookups - count : 0
            guard n.lookups == 0 else {
                map[ino] = n
                return
            }
            map[ino] = nil
            for e in n.names where map[e.parent]?.children[e.name] == ino {
                map[e.parent]?.children[e.name] = nil
            }
        }
    }

    /// The lookup count of `ino` (0 when the kernel does not know it).
    func lookups(_ ino: UInt64) -> UInt64 { nodes.withLock { $0[ino]?.lookups ?? 0 } }

    /// Whether the kernel may hold `ino`.
    func isKnown(_ ino: UInt64) -> Bool { nodes.withLock { $0[ino] != nil } }

    /// Every known node and the ctime the kernel was told.
    func snapshot() -> [(ino: UInt64, ctime: Nanos, isDirectory: Bool)] {
        nodes.withLock { map in map.map { ($0.key, $0.value.ctime, $0.value.isDirectory) } }
    }

    /// The cached names of directory `ino`, pruned of nodes the kernel forgot.
    func children(of ino: UInt64) -> [(name: Data, ino: UInt64)] {
        nodes.withLock { map in
            guard var n = map[ino] else { return [] }
            n.children = n.children.filter { map[$0.value] != nil }
            map[ino] = n
            return n.children.map { ($0.key, $0.value) }
        }
    }

    /// The cached entries below directory `ino`, depth first (for a directory that left a subpath).
    func subtreeEntries(of ino: UInt64) -> [(parent: UInt64, name: Data)] {
        nodes.withLock { map in
            var out: [(UInt64, Data)] = []
            var stack = [ino]
            var seen: Set<UInt64> = [ino]
            while let d = stack.popLast() {
                guard let n = map[d] else { continue }
                for (name, child) in n.children where map[child] != nil {
                    out.append((d, name))
                    if map[child]?.isDirectory == true, seen.insert(child).inserted { stack.append(child) }
                }
            }
            return out
        }
    }

    /// The node the kernel may cache as `parent/name`.
    func child(_ parent: UInt64, _ name: Data) -> UInt64? { nodes.withLock { $0[parent]?.children[name] } }

    /// Forgets that the kernel may cache `parent/name` (after invalidating it).
    func dropEntry(parent: UInt64, name: Data) {
        nodes.withLock { map in _ = map[parent]?.children.removeValue(forKey: name) }
    }

    /// Sets the ctime the kernel is believed to hold (after invalidating the node, the current one).
    func setCtime(_ ino: UInt64, _ ctime: Nanos) {
        nodes.withLock { map in map[ino]?.ctime = ctime }
    }

    /// How many nodes are known, the root included.
    var count: Int { nodes.withLock { $0.count } }

    /// How many names all directories hold, forgotten nodes' included until pruned.
    var nameCount: Int { nodes.withLock { $0.values.reduce(0) { $0 + $1.children.count } } }
}
