// The registry database's schema: tenants, volumes (hidden while an import creates them), API keys (later issues append leases and uploads).
import GRDB

/// Migrations of the registry database. Never edit a registered migration; append a new one.
enum RegistrySchema {
    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1-tenants-volumes") { db in
            try db.execute(sql: """
                CREATE TABLE tenant (
                  id TEXT PRIMARY KEY NOT NULL CHECK (length(id) BETWEEN 1 AND 128),
                  quota_bytes INTEGER CHECK (quota_bytes IS NULL OR quota_bytes > 0),
                  created_at REAL NOT NULL
                );
                CREATE TABLE volume (
                  id TEXT PRIMARY KEY NOT NULL CHECK (id LIKE 'vol-%'),
                  owner_id TEXT NOT NULL REFERENCES tenant(id),
                  name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
                  metadata TEXT NOT NULL DEFAULT '{}',
                  quota_bytes INTEGER CHECK (quota_bytes IS NULL OR quota_bytes > 0),
                  created_at REAL NOT NULL,
                  state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'deleting'))
                );
                CREATE INDEX volume_by_owner ON volume(owner_id, created_at);
                """)
        }
        // A volume being filled by `import --create` is 'importing': hidden from every lookup until the
        // import lands, owned by the importing process (`import_owner`, see ProcessIdentity), and removed
        // once that process is gone. SQLite cannot change a CHECK in place: the table is rebuilt.
        m.registerMigration("v2-importing-volumes") { db in
            try db.execute(sql: """
                CREATE TABLE volume_v2 (
                  id TEXT PRIMARY KEY NOT NULL CHECK (id LIKE 'vol-%'),
                  owner_id TEXT NOT NULL REFERENCES tenant(id),
                  name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
                  metadata TEXT NOT NULL DEFAULT '{}',
                  quota_bytes INTEGER CHECK (quota_bytes IS NULL OR quota_bytes > 0),
                  created_at REAL NOT NULL,
                  state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'deleting', 'importing')),
                  import_owner TEXT CHECK ((state = 'importing') = (import_owner IS NOT NULL))
                );
                INSERT INTO volume_v2 (id, owner_id, name, metadata, quota_bytes, created_at, state)
                  SELECT id, owner_id, name, metadata, quota_bytes, created_at, state FROM volume;
                DROP TABLE volume;
                ALTER TABLE volume_v2 RENAME TO volume;
                CREATE INDEX volume_by_owner ON volume(owner_id, created_at);
                """)
        }
        // API keys: only the SHA-256 of the secret is stored; a key is revoked by setting revoked_at.
        m.registerMigration("v3-api-keys") { db in
            try db.execute(sql: """
                CREATE TABLE api_key (
                  id TEXT PRIMARY KEY NOT NULL CHECK (id LIKE 'key-%'),
                  tenant_id TEXT NOT NULL REFERENCES tenant(id),
                  role TEXT NOT NULL CHECK (role IN ('tenant', 'operator')),
                  secret_sha256 BLOB NOT NULL UNIQUE CHECK (length(secret_sha256) = 32),
                  created_at REAL NOT NULL,
                  expires_at REAL,
                  revoked_at REAL,
                  note TEXT NOT NULL DEFAULT ''
                );
                CREATE INDEX api_key_by_tenant ON api_key(tenant_id, created_at);
                """)
        }
        return m
    }
}
