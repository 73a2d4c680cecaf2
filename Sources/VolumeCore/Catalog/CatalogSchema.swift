// The per-volume catalog's schema: append-only named migrations that use no app types.
import GRDB

/// Migrations of one volume's catalog database. Never edit a registered migration; append a new one.
enum CatalogSchema {
    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1-tree") { db in
            try db.execute(sql: """
                CREATE TABLE meta (
                  key TEXT PRIMARY KEY NOT NULL,
                  value INTEGER NOT NULL
                );
                CREATE TABLE inode (
                  ino INTEGER PRIMARY KEY AUTOINCREMENT,
                  kind INTEGER NOT NULL CHECK (kind IN (1, 2, 3, 4, 5)),
                  mode INTEGER NOT NULL CHECK (mode BETWEEN 0 AND 4095),
                  uid INTEGER NOT NULL DEFAULT 0,
                  gid INTEGER NOT NULL DEFAULT 0,
                  size INTEGER NOT NULL DEFAULT 0 CHECK (size >= 0),
                  nlink INTEGER NOT NULL CHECK (nlink >= 0),
                  atime INTEGER NOT NULL,
                  mtime INTEGER NOT NULL,
                  ctime INTEGER NOT NULL,
                  rdev INTEGER NOT NULL DEFAULT 0,
                  target BLOB,
                  CHECK ((kind = 3) = (target IS NOT NULL))
                );
                CREATE TABLE dentry (
                  parent INTEGER NOT NULL REFERENCES inode(ino),
                  name BLOB NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
                  ino INTEGER NOT NULL REFERENCES inode(ino),
                  PRIMARY KEY (parent, name)
                ) WITHOUT ROWID;
                CREATE INDEX dentry_by_ino ON dentry(ino);
                CREATE TABLE block (
                  ino INTEGER NOT NULL REFERENCES inode(ino) ON DELETE CASCADE,
                  idx INTEGER NOT NULL CHECK (idx >= 0),
                  chunk BLOB NOT NULL CHECK (length(chunk) = 32),
                  len INTEGER NOT NULL CHECK (len > 0),
                  PRIMARY KEY (ino, idx)
                ) WITHOUT ROWID;
                CREATE TABLE xattr (
                  ino INTEGER NOT NULL REFERENCES inode(ino) ON DELETE CASCADE,
                  name TEXT NOT NULL,
                  value BLOB NOT NULL,
                  PRIMARY KEY (ino, name)
                ) WITHOUT ROWID;
                CREATE TABLE orphan (
                  ino INTEGER PRIMARY KEY REFERENCES inode(ino) ON DELETE CASCADE,
                  pid INTEGER NOT NULL
                );
                """)
        }
        // Block and character device nodes (kinds 6 and 7). SQLite cannot change a CHECK in place,
        // so the inode table is rebuilt with the wider one (the other tables name it, not its
        // definition, and keep their rows). The AUTOINCREMENT high-water mark is carried over so
        // that inode numbers stay never reused.
        m.registerMigration("v2-device-nodes") { db in
            try db.execute(sql: """
                CREATE TABLE inode_v2 (
                  ino INTEGER PRIMARY KEY AUTOINCREMENT,
                  kind INTEGER NOT NULL CHECK (kind IN (1, 2, 3, 4, 5, 6, 7)),
                  mode INTEGER NOT NULL CHECK (mode BETWEEN 0 AND 4095),
                  uid INTEGER NOT NULL DEFAULT 0,
                  gid INTEGER NOT NULL DEFAULT 0,
                  size INTEGER NOT NULL DEFAULT 0 CHECK (size >= 0),
                  nlink INTEGER NOT NULL CHECK (nlink >= 0),
                  atime INTEGER NOT NULL,
                  mtime INTEGER NOT NULL,
                  ctime INTEGER NOT NULL,
                  rdev INTEGER NOT NULL DEFAULT 0,
                  target BLOB,
                  CHECK ((kind = 3) = (target IS NOT NULL))
                );
                INSERT INTO inode_v2 (ino, kind, mode, uid, gid, size, nlink, atime, mtime, ctime, rdev, target)
                  SELECT ino, kind, mode, uid, gid, size, nlink, atime, mtime, ctime, rdev, target FROM inode;
                CREATE TEMP TABLE inode_seq AS SELECT seq FROM sqlite_sequence WHERE name = 'inode';
                DROP TABLE inode;
                ALTER TABLE inode_v2 RENAME TO inode;
                UPDATE sqlite_sequence SET seq = max(seq, coalesce((SELECT max(seq) FROM temp.inode_seq), 0))
                  WHERE name = 'inode';
                DROP TABLE temp.inode_seq;
                """)
        }
        // The change journal (`ChangeJournal`): one row per changed path per commit, read by
        // watchers in any process. AUTOINCREMENT so a sequence number is never reused after trimming.
        m.registerMigration("v3-change-journal") { db in
            try db.execute(sql: """
                CREATE TABLE journal (
                  seq INTEGER PRIMARY KEY AUTOINCREMENT,
                  time INTEGER NOT NULL,
                  type INTEGER NOT NULL CHECK (type BETWEEN 1 AND 4),
                  path BLOB NOT NULL,
                  from_path BLOB
                );
                """)
        }
        return m
    }
}
