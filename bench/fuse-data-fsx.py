#!/usr/bin/env python3
# A file exerciser in the manner of fsx: random reads, writes, truncates and mmap reads/writes
# on one file, every read (and a final full read after close and reopen) checked against an
# in-memory model of the file. Prints the wall time; exits non-zero at the first mismatch, with
# the operation log tail. Used to compare file systems on the same sequence (fixed seed).
#
#   python3 bench/fuse-data-fsx.py FILE [--ops 100000] [--max-len 262144] [--max-io 65536] [--seed 1]
import argparse
import mmap
import os
import random
import sys
import time

p = argparse.ArgumentParser()
p.add_argument('file')
p.add_argument('--ops', type=int, default=100_000)
p.add_argument('--max-len', type=int, default=256 * 1024)
p.add_argument('--max-io', type=int, default=64 * 1024)
p.add_argument('--seed', type=int, default=1)
a = p.parse_args()

rng = random.Random(a.seed)
model = bytearray()
log = []
PAGE = mmap.PAGESIZE


def fail(msg):
    print(f'MISMATCH: {msg}', file=sys.stderr)
    for line in log[-20:]:
        print('  ' + line, file=sys.stderr)
    sys.exit(1)


def check(got, off, what):
    want = bytes(model[off:off + len(got)])
    if got != want:
        i = next(k for k in range(len(got)) if got[k:k + 1] != want[k:k + 1])
        fail(f'{what} at {off}+{len(got)}: first bad byte at {off + i}')


fd = os.open(a.file, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
start = time.monotonic()
for n in range(a.ops):
    op = rng.choice(('read', 'write', 'write', 'mapread', 'mapwrite', 'truncate'))
    size = len(model)
    if op in ('read', 'mapread') and size == 0:
        op = 'write'
    if op == 'read':
        off = rng.randrange(size)
        ln = rng.randint(1, min(a.max_io, size - off))
        log.append(f'{n} read {off} {ln}')
        got = os.pread(fd, ln, off)
        if len(got) != ln:
            fail(f'short read {len(got)} of {ln} at {off}')
        check(got, off, 'read')
    elif op == 'write':
        off = rng.randrange(a.max_len - 1)
        ln = rng.randint(1, min(a.max_io, a.max_len - off))
        data = rng.randbytes(ln)
        log.append(f'{n} write {off} {ln}')
        if os.pwrite(fd, data, off) != ln:
            fail('short write')
        if off > len(model):
            model.extend(bytes(off - len(model)))
        model[off:off + ln] = data
    elif op == 'truncate':
        ln = rng.randrange(a.max_len)
        log.append(f'{n} truncate {ln}')
        os.ftruncate(fd, ln)
        if ln < len(model):
            del model[ln:]
        else:
            model.extend(bytes(ln - len(model)))
    else:
        if op == 'mapwrite':
            off = rng.randrange(a.max_len - 1)
            ln = rng.randint(1, min(a.max_io, a.max_len - off))
            if off + ln > len(model):
                # A mapping cannot grow the file: extend it first, as fsx does.
                os.ftruncate(fd, off + ln)
                model.extend(bytes(off + ln - len(model)))
        else:
            off = rng.randrange(size)
            ln = rng.randint(1, min(a.max_io, size - off))
        base = off - off % PAGE
        m = mmap.mmap(fd, off + ln - base, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE, offset=base)
        try:
            if op == 'mapread':
                log.append(f'{n} mapread {off} {ln}')
                check(m[off - base:off - base + ln], off, 'mapread')
            else:
                data = rng.randbytes(ln)
                log.append(f'{n} mapwrite {off} {ln}')
                m[off - base:off - base + ln] = data
                m.flush()
                model[off:off + ln] = data
        finally:
            m.close()
os.close(fd)
# Close-to-open: a fresh open sees every byte the model holds.
fd = os.open(a.file, os.O_RDONLY)
got = b''
while True:
    chunk = os.read(fd, 1 << 20)
    if not chunk:
        break
    got += chunk
os.close(fd)
if len(got) != len(model):
    fail(f'final length {len(got)} != {len(model)}')
check(got, 0, 'final read')
print(f'fsx: {a.ops} ops, seed {a.seed}, final length {len(model)}, {time.monotonic() - start:.2f} s')
