// The registry database's schema: tenants, volumes (hidden while an import creates them), API keys, leases, sandboxes and attachments (and how they are delivered).
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
        // Leases, sandboxes and attachments (issue 18; see Docs/architecture.md, "Leases, sandboxes and
        // attachments"). One block of its own, so that it comes after the API keys.
        // An attachment names its volume without a foreign key: its record outlives the volume (it
        // becomes `failed`, reason `volume_deleted`). A lease goes with its volume.
        m.registerMigration("v4-leases-sandboxes-attachments") { db in
            try db.execute(sql: """
                CREATE TABLE sandbox (
                  id TEXT PRIMARY KEY NOT NULL CHECK (id LIKE 'sbx-%'),
                  owner_id TEXT NOT NULL CHECK (length(owner_id) BETWEEN 1 AND 128),
                  state TEXT NOT NULL CHECK (state IN ('running', 'paused', 'hibernated', 'destroyed')),
                  parent_id TEXT REFERENCES sandbox(id) ON DELETE SET NULL,
                  created_at REAL NOT NULL,
                  updated_at REAL NOT NULL CHECK (updated_at >= created_at)
                );
                CREATE INDEX sandbox_by_owner ON sandbox(owner_id, created_at);
                CREATE TABLE attachment (
                  id TEXT PRIMARY KEY NOT NULL CHECK (id LIKE 'att-%'),
                  sandbox_id TEXT NOT NULL REFERENCES sandbox(id) ON DELETE CASCADE,
                  volume_id TEXT NOT NULL CHECK (volume_id LIKE 'vol-%'),
                  mount_path TEXT NOT NULL CHECK (substr(mount_path, 1, 1) = '/' AND length(mount_path) BETWEEN 2 AND 4096),
                  read_only INTEGER NOT NULL CHECK (read_only IN (0, 1)),
                  subpath TEXT NOT NULL DEFAULT '/' CHECK (substr(subpath, 1, 1) = '/'),
                  state TEXT NOT NULL CHECK (state IN ('mounted', 'released', 'failed')),
                  reason TEXT NOT NULL CHECK (length(reason) BETWEEN 1 AND 64),
                  message TEXT NOT NULL DEFAULT '',
                  served_by TEXT CHECK ((state = 'mounted') = (served_by IS NOT NULL)),
                  host_path TEXT,
                  created_at REAL NOT NULL,
                  updated_at REAL NOT NULL CHECK (updated_at >= created_at),
                  detached_at REAL CHECK (detached_at IS NULL OR state <> 'mounted')
                );
                CREATE UNIQUE INDEX attachment_at_path ON attachment(sandbox_id, mount_path) WHERE detached_at IS NULL;
                CREATE INDEX attachment_by_volume ON attachment(volume_id);
                CREATE TABLE lease (
                  id TEXT PRIMARY KEY NOT NULL CHECK (id LIKE 'lse-%'),
                  volume_id TEXT NOT NULL REFERENCES volume(id) ON DELETE CASCADE,
                  purpose TEXT NOT NULL CHECK (purpose IN ('mount', 'import', 'delete', 'write')),
                  mode TEXT NOT NULL CHECK (mode IN ('shared', 'exclusive')),
                  holder_host TEXT NOT NULL CHECK (length(holder_host) >= 1),
                  holder_boot TEXT NOT NULL,
                  holder_pid INTEGER NOT NULL CHECK (holder_pid > 0),
                  holder_start INTEGER NOT NULL CHECK (holder_start >= 0),
                  acquired_at REAL NOT NULL,
                  renewed_at REAL NOT NULL CHECK (renewed_at >= acquired_at),
                  expires_at REAL NOT NULL CHECK (expires_at >= renewed_at),
                  attachment_id TEXT UNIQUE REFERENCES attachment(id) ON DELETE CASCADE
                );
                CREATE INDEX lease_by_volume ON lease(volume_id);
                """)
        }
        // Delivery "in the sandbox" (issue 18): a sandbox may name the process whose mount namespace
        // receives its attachments (pid, start time in clock ticks since boot, boot ID: a reused pid or
        // a reboot is then not mistaken for it), and the uid/gid its programs run as. An attachment
        // says how it is delivered: at its host path only, or also placed inside that namespace.
        m.registerMigration("v5-sandbox-delivery") { db in
            try db.execute(sql: """
                ALTER TABLE sandbox ADD COLUMN namespace_pid INTEGER CHECK (namespace_pid IS NULL OR namespace_pid > 0);
                ALTER TABLE sandbox ADD COLUMN namespace_start INTEGER CHECK ((namespace_start IS NULL) = (namespace_pid IS NULL));
                ALTER TABLE sandbox ADD COLUMN namespace_boot TEXT CHECK ((namespace_boot IS NULL) = (namespace_pid IS NULL));
                ALTER TABLE sandbox ADD COLUMN uid INTEGER CHECK (uid IS NULL OR uid BETWEEN 0 AND 4294967294);
                ALTER TABLE sandbox ADD COLUMN gid INTEGER CHECK (gid IS NULL OR gid BETWEEN 0 AND 4294967294);
                ALTER TABLE attachment ADD COLUMN delivery TEXT NOT NULL DEFAULT 'host_path' CHECK (delivery IN ('host_path', 'namespace'));
                """)
        }
        return m
    }
}
