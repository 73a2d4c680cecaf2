// Volumes that an import creates: hidden until the import lands, removed when their importer died first.
import Foundation
import GRDB

extension VolumeStore {
    /// Creates an empty volume that nothing sees (not listed, not found by ID or name) until
    /// `publishVolume`, owned by this process. A live hidden volume holds its name: creating another
    /// volume of that name and owner fails until it is published or discarded. If this process dies
    /// first (even by SIGKILL), the next store open or create removes it: a `--create` import that
    /// does not finish leaves no volume behind.
    public func createHiddenVolume(owner: String, name: String, metadata: [String: String] = [:]) throws -> Volume {
        try insertVolume(owner: owner, name: name, metadata: metadata, importOwner: .current).volume
    }

    /// Makes a hidden volume visible (after its import committed) and returns it as listed.
    public func publishVolume(_ id: String) throws -> VolumeInfo {
        let changed = try registry.write { db -> Int in
            try db.execute(sql: "UPDATE volume SET state = 'active', import_owner = NULL WHERE id = ? AND state = 'importing'",
                           arguments: [id])
            return db.changesCount
        }
        guard changed == 1 else { throw VolumeError.notFound("hidden volume '\(id)'") }
        return try info(id, owner: nil)
    }

    /// Removes a hidden volume whose import failed (its chunks become garbage for `gc`).
    public func discardHiddenVolume(_ id: String) throws {
        let hidden = try registry.read { db in
            try Bool.fetchOne(db, sql: "SELECT state = 'importing' FROM volume WHERE id = ?", arguments: [id]) ?? false
        }
        guard hidden else { throw VolumeError.notFound("hidden volume '\(id)'") }
        try remove(id)
    }

    /// Removes the hidden volumes whose importing process is gone (crashed or killed before publishing).
    func removeStaleImports() throws {
        let rows = try registry.read { db in
            try Row.fetchAll(db, sql: "SELECT id, import_owner FROM volume WHERE state = 'importing'")
        }
        for r in rows {
            let owner = ProcessIdentity((r["import_owner"] as String?) ?? "")
            if !(owner.map(liveness.isAlive) ?? false) { try remove(r["id"]) }
        }
    }

    /// Whether a live import is creating a volume called `name` for `owner`.
    func liveImport(_ db: Database, owner: String, name: String) throws -> Bool {
        let owners = try String.fetchAll(db, sql: """
            SELECT import_owner FROM volume WHERE state = 'importing' AND owner_id = ? AND name = ?
            """, arguments: [owner, name])
        return owners.contains { ProcessIdentity($0).map(liveness.isAlive) ?? false }
    }
}
