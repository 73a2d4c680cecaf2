// The archive tests' Python helper (made, listed and broken archives), written to a temp file when a test needs it.

let archiveToolScript = #"""
#!/usr/bin/env python3
"""Makes and lists tar archives for the archive tests (run by ArchiveTestSupport.swift).

  tree DIR [--short]              build the sample tree (--short: no names that need pax or GNU long names)
  pytar DIR OUT FORMAT            tar.gz of DIR by Python's tarfile (ustar, gnu or pax)
  list ARCHIVE                    JSON listing of a tar.gz as tarfile reads it
  walk DIR                        JSON listing of a directory (what GNU tar extracted)
  hostile OUT KIND                a hostile archive (see KINDS)
"""
import decimal, gzip, hashlib, io, json, os, random, stat, sys, tarfile

BASE_NS = 1_600_000_000_123_456_789


def tree(root, short):
    rnd = random.Random(7)
    files = {
        'hello.txt': (b'hello world\n', 0o644),
        'empty': (b'', 0o600),
        'bin/tool.sh': (b'#!/bin/sh\necho hi\n', 0o755),
        'data/random.bin': (bytes(rnd.getrandbits(8) for _ in range(300_000)), 0o640),
        'data/zeros.bin': (b'\0' * 200_000, 0o644),
        'data/mixed.bin': (b'\0' * 131072 + b'tail' * 1000, 0o644),
        'caf\u00e9/na\u00efve.txt': ('unicode \u2713\n'.encode(), 0o644),
        'setuid': (b'x', 0o4755),
        'spaces in name.txt': (b'spaces\n', 0o644),
    }
    if not short:
        files['deep/' + 'd' * 60 + '/' + 'e' * 60 + '/f.txt'] = (b'prefix split\n', 0o644)
        files['n' * 200 + '.txt'] = (b'long name\n', 0o644)
        files['x' * 100 + '/' + 'y' * 100 + '/' + 'z' * 100 + '.txt'] = (b'very long path\n', 0o644)
    for i, (rel, (data, mode)) in enumerate(sorted(files.items())):
        p = os.path.join(root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, 'wb') as f:
            f.write(data)
        os.chmod(p, mode)
        ns = BASE_NS + i * 1_000_000_007
        os.utime(p, ns=(ns, ns))
    os.makedirs(os.path.join(root, 'private'), exist_ok=True)
    os.chmod(os.path.join(root, 'private'), 0o700)
    os.makedirs(os.path.join(root, 'emptydir'), exist_ok=True)
    os.symlink('hello.txt', os.path.join(root, 'link'))
    os.link(os.path.join(root, 'hello.txt'), os.path.join(root, 'hard'))
    # Directory times last, deepest first.
    dirs = []
    for d, _, _ in os.walk(root):
        dirs.append(d)
    for j, d in enumerate(sorted(dirs, key=len, reverse=True)):
        ns = BASE_NS - 86_400_000_000_000 + j * 3_000_000_011
        os.utime(d, ns=(ns, ns))


def pytar(root, out, fmt):
    f = {'ustar': tarfile.USTAR_FORMAT, 'gnu': tarfile.GNU_FORMAT, 'pax': tarfile.PAX_FORMAT}[fmt]
    with tarfile.open(out, 'w:gz', format=f) as t:
        for d, subdirs, names in os.walk(root):
            subdirs.sort()
            for n in sorted(subdirs) + sorted(names):
                p = os.path.join(d, n)
                t.add(p, arcname=os.path.relpath(p, root), recursive=False)


def shown(name):
    # Names that are not UTF-8 come back from tarfile and os.walk with surrogates; show them as \xNN.
    return name.encode('utf-8', 'surrogateescape').decode('utf-8', 'backslashreplace')


def norm(name):
    while name.startswith('./'):
        name = name[2:]
    return shown(name.rstrip('/'))


def mtime_ns(m):
    text = m.pax_headers.get('mtime')
    if text is not None:
        return int(decimal.Decimal(text) * 1_000_000_000)
    return int(m.mtime) * 1_000_000_000


def kind(m):
    if m.isfile():
        return 'file'
    if m.isdir():
        return 'dir'
    if m.issym():
        return 'symlink'
    if m.islnk():
        return 'link'
    return 'other'


def listing(path):
    out = []
    with tarfile.open(path, 'r:gz', errors='surrogateescape') as t:
        for m in t:
            name = norm(m.name)
            if name in ('', '.'):
                continue
            d = {'name': name, 'type': kind(m), 'size': m.size, 'mode': m.mode & 0o7777, 'mtime_ns': mtime_ns(m),
                 'target': shown(m.linkname), 'uid': m.uid}
            if m.isfile():
                d['sha256'] = hashlib.sha256(t.extractfile(m).read()).hexdigest()
            out.append(d)
    return out


def walk(root):
    out = []
    for d, subdirs, names in os.walk(root):
        for n in subdirs + names:
            p = os.path.join(d, n)
            st = os.lstat(p)
            rel = shown(os.path.relpath(p, root))
            t = 'dir' if stat.S_ISDIR(st.st_mode) else 'file' if stat.S_ISREG(st.st_mode) else \
                'symlink' if stat.S_ISLNK(st.st_mode) else 'other'
            e = {'name': rel, 'type': t, 'size': st.st_size if t == 'file' else 0, 'mode': st.st_mode & 0o7777,
                 'mtime_ns': st.st_mtime_ns, 'target': os.readlink(p) if t == 'symlink' else '', 'nlink': st.st_nlink,
                 'uid': st.st_uid}
            if t == 'file':
                with open(p, 'rb') as f:
                    e['sha256'] = hashlib.sha256(f.read()).hexdigest()
            out.append(e)
    return out


def add(t, name, data=b'', type=tarfile.REGTYPE, linkname='', mode=0o644, size=None):
    ti = tarfile.TarInfo(name)
    ti.type = type
    ti.linkname = linkname
    ti.mode = mode
    ti.mtime = 1_600_000_000
    ti.size = len(data) if size is None else size
    t.addfile(ti, io.BytesIO(data) if ti.size else None)


def hostile(out, kind):
    buf = io.BytesIO()
    raw = None
    if kind == 'paths':
        with tarfile.open(fileobj=buf, mode='w', format=tarfile.GNU_FORMAT) as t:
            add(t, 'ok.txt', b'fine\n')
            add(t, '../evil.txt', b'escape\n')
            add(t, 'a/../../evil2.txt', b'escape\n')
            add(t, '/abs/evil3.txt', b'absolute\n')
            add(t, 'sub/..', type=tarfile.DIRTYPE)
            add(t, 'sub/ok2.txt', b'fine too\n')
    elif kind == 'links':
        with tarfile.open(fileobj=buf, mode='w', format=tarfile.GNU_FORMAT) as t:
            add(t, 'target.txt', b'target\n')
            add(t, 'link', type=tarfile.SYMTYPE, linkname='/etc')
            add(t, 'link/passwd', b'root::0:0::/:/bin/sh\n')
            add(t, 'dirlink', type=tarfile.SYMTYPE, linkname='..')
            add(t, 'dirlink/escaped.txt', b'escape\n')
            add(t, 'hard', type=tarfile.LNKTYPE, linkname='target.txt')
            add(t, 'chr', type=tarfile.CHRTYPE)
            add(t, 'blk', type=tarfile.BLKTYPE)
            add(t, 'fifo', type=tarfile.FIFOTYPE)
            add(t, 'after.txt', b'after\n')
    elif kind == 'nonutf8':
        with tarfile.open(fileobj=buf, mode='w', format=tarfile.GNU_FORMAT, encoding='utf-8',
                          errors='surrogateescape') as t:
            add(t, 'good.txt', b'good\n')
            add(t, b'bad\xff\xfe.txt'.decode('utf-8', 'surrogateescape'), b'bad\n')
            add(t, b'dir\xff/inner.txt'.decode('utf-8', 'surrogateescape'), b'bad\n')
    elif kind in ('size-lies', 'size-short'):
        # A header that declares more data than follows: then another entry (size-lies), or the end (size-short).
        with tarfile.open(fileobj=buf, mode='w', format=tarfile.USTAR_FORMAT) as t:
            add(t, 'first.txt', b'first\n')
        data = bytearray(buf.getvalue())
        body_end = 1024
        data = data[:body_end]
        ti = tarfile.TarInfo('liar.bin')
        ti.size = 10_000
        ti.mtime = 1_600_000_000
        data += ti.tobuf(format=tarfile.USTAR_FORMAT)
        data += b'L' * 512  # only one block of the promised 10,000 bytes
        if kind == 'size-lies':
            t2 = tarfile.TarInfo('next.txt')
            t2.size = 5
            data += t2.tobuf(format=tarfile.USTAR_FORMAT) + b'next\n'.ljust(512, b'\0')
            data += b'\0' * 1024
        raw = bytes(data)
    elif kind == 'bad-checksum':
        with tarfile.open(fileobj=buf, mode='w', format=tarfile.USTAR_FORMAT) as t:
            add(t, 'first.txt', b'first\n')
            add(t, 'second.txt', b'second\n')
        data = bytearray(buf.getvalue())
        data[1024 + 10] ^= 0x20  # a byte of the second header's name
        raw = bytes(data)
    elif kind == 'bomb':
        # Small blob, large content: three 8 MiB files of zeros (sizes declared in the headers).
        with tarfile.open(fileobj=buf, mode='w', format=tarfile.GNU_FORMAT) as t:
            for i in range(3):
                ti = tarfile.TarInfo('zeros%d.bin' % i)
                ti.size = 8 << 20
                t.addfile(ti, io.BytesIO(b'\0' * ti.size))
    elif kind == 'many':
        # Enough entries (about 6 MiB) that an import reading it through a pipe is still running when stopped.
        rnd = random.Random(3)
        with tarfile.open(fileobj=buf, mode='w', format=tarfile.GNU_FORMAT) as t:
            for i in range(1500):
                add(t, 'f%04d.bin' % i, bytes(rnd.getrandbits(8) for _ in range(4096)))
    else:
        raise SystemExit('unknown kind ' + kind)
    payload = raw if raw is not None else buf.getvalue()
    with open(out, 'wb') as f:
        f.write(gzip.compress(payload, mtime=0))


if __name__ == '__main__':
    cmd = sys.argv[1]
    if cmd == 'tree':
        tree(sys.argv[2], '--short' in sys.argv)
    elif cmd == 'pytar':
        pytar(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == 'list':
        json.dump(listing(sys.argv[2]), sys.stdout)
    elif cmd == 'walk':
        json.dump(walk(sys.argv[2]), sys.stdout)
    elif cmd == 'hostile':
        hostile(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit(__doc__)
"""#
