#!/usr/bin/env python3
"""Data generator for tools/bench-import.sh (and the stored-bytes counter of its dedup step).

  big OUT MIB            a tar.gz of four large files totalling MIB MiB: two text-like, one random, one mixed
  small OUT N [CHANGED]  a tar.gz of N small files (200 B to 16 KiB, about 4 KiB on average) in N/500
                         directories; with CHANGED, that fraction of the files has different content
  stored DATA_DIR        bytes of chunk data stored in a volumectl data directory, as JSON
"""
import io, json, os, random, sqlite3, sys, tarfile

WORDS = None


def words(rnd):
    global WORDS
    if WORDS is None:
        WORDS = [''.join(rnd.choice('abcdefghijklmnopqrstuvwxyz') for _ in range(rnd.randint(2, 10))) for _ in range(5000)]
    return WORDS


def text_pool(rnd, size):
    w = words(rnd)
    out = []
    n = 0
    while n < size:
        line = ' '.join(rnd.choice(w) for _ in range(12)) + ' %d\n' % rnd.randint(0, 10 ** 9)
        out.append(line)
        n += len(line)
    return ''.join(out).encode()[:size]


class Stream(io.RawIOBase):
    """A file's content produced piece by piece, so 1 GiB is never held in memory."""
    def __init__(self, size, piece):
        self.left, self.piece, self.buf = size, piece, b''
    def readable(self):
        return True
    def readinto(self, b):
        if not self.buf:
            if self.left <= 0:
                return 0
            self.buf = self.piece(min(self.left, 1 << 20))
            self.left -= len(self.buf)
        n = min(len(b), len(self.buf))
        b[:n] = self.buf[:n]
        self.buf = self.buf[n:]
        return n


def big(out, mib):
    rnd = random.Random(1)
    pool = text_pool(rnd, 8 << 20)
    def text(n):
        o = rnd.randrange(0, len(pool) - n)
        return pool[o:o + n]
    def mixed(n):
        return b''.join(text(min(65536, n - i)) if (i // 65536) % 2 == 0 else os.urandom(min(65536, n - i))
                        for i in range(0, n, 65536))
    total = mib << 20
    sizes = [total * 35 // 100, total * 25 // 100, total * 20 // 100]
    sizes.append(total - sum(sizes))
    kinds = [('logs/app.log', text), ('data/table.csv', text), ('blobs/random.bin', os.urandom), ('blobs/mixed.bin', mixed)]
    with tarfile.open(out, 'w:gz', compresslevel=6, format=tarfile.GNU_FORMAT) as t:
        for d in ('logs', 'data', 'blobs'):
            ti = tarfile.TarInfo(d)
            ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, 1_700_000_000
            t.addfile(ti)
        for (name, gen), size in zip(kinds, sizes):
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode, ti.mtime = size, 0o644, 1_700_000_000
            t.addfile(ti, io.BufferedReader(Stream(size, gen)))


def small(out, n, changed=0.0):
    rnd = random.Random(2)
    pool = text_pool(rnd, 8 << 20)
    flip = random.Random(3)
    with tarfile.open(out, 'w:gz', compresslevel=6, format=tarfile.GNU_FORMAT) as t:
        per = 500
        for d in range((n + per - 1) // per):
            ti = tarfile.TarInfo('d%04d' % d)
            ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, 1_700_000_000
            t.addfile(ti)
            for i in range(d * per, min(n, (d + 1) * per)):
                size = int(200 * (80 ** rnd.random()))  # 200 B .. 16 KiB, log-uniform
                o = rnd.randrange(0, len(pool) - size)
                data = pool[o:o + size]
                if flip.random() < changed:
                    data = b'changed %d ' % i + data[:max(0, size - 20)]
                ti = tarfile.TarInfo('d%04d/f%06d.txt' % (d, i))
                ti.size, ti.mode, ti.mtime = len(data), 0o644, 1_700_000_000
                t.addfile(ti, io.BytesIO(data))


def stored(data_dir):
    chunks = os.path.join(data_dir, 'chunks')
    files = 0
    file_bytes = 0
    for d in os.listdir(os.path.join(chunks, 'chunks')):
        for f in os.listdir(os.path.join(chunks, 'chunks', d)):
            files += 1
            file_bytes += os.path.getsize(os.path.join(chunks, 'chunks', d, f))
    db = sqlite3.connect(os.path.join(chunks, 'small.sqlite'))
    rows, row_bytes = db.execute('SELECT count(*), coalesce(sum(length(data)), 0) FROM chunk').fetchone()
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if 'packed' in tables:  # small chunks in pack files, indexed by small.sqlite
        packed, packed_bytes = db.execute('SELECT count(*), coalesce(sum(len), 0) FROM packed').fetchone()
        rows, row_bytes = rows + packed, row_bytes + packed_bytes
    disk = 0
    for d, _, names in os.walk(chunks):
        for f in names:
            disk += os.stat(os.path.join(d, f)).st_blocks * 512
    print(json.dumps({'chunks': files + rows, 'bytes': file_bytes + row_bytes, 'disk_bytes': disk}))


if __name__ == '__main__':
    cmd = sys.argv[1]
    if cmd == 'big':
        big(sys.argv[2], int(sys.argv[3]))
    elif cmd == 'small':
        small(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]) if len(sys.argv) > 4 else 0.0)
    elif cmd == 'stored':
        stored(sys.argv[2])
    else:
        raise SystemExit(__doc__)
