#!/usr/bin/env python3
# CPU of a Node process by module, from `perf script` output of a `perf record -g` of it (the
# process started with NODE_OPTIONS=--perf-basic-prof, so JIT frames have names). Each sample is
# given to: another thread (V8's compiler and GC workers, libuv's pool); the kernel, by what it was
# doing (write(2), the loopback TCP receive in softirq, epoll_wait, read); OpenSSL/TLSWrap; V8's
# GC on the main thread; else the first JavaScript frame of ours on the stack (src/..., by module,
# grouped below), or node's own JavaScript (streams, net, task queues). µs per op = share × the
# process's CPU per op over the recorded loop (/proc/PID/stat), given on the command line.
#
#   perf record -F 1999 -g -p PID -o x.data & (run the loop) ; perf script -i x.data > x.txt
#   python3 bench/perf-by-module.py x.txt:PID:CPU_US_PER_OP [y.txt:PID:CPU_US_PER_OP ...]
#
# One column per profile: "share % · µs per op". Used for docs/benchmarks.md ("The metaservers'
# CPU per create, broken down").
import sys, re, collections
def samples(path):
    cur=None; frames=[]
    for line in open(path, errors='replace'):
        if not line.strip():
            if cur: yield cur, frames
            cur=None; frames=[]; continue
        if not line[0].isspace():
            cur=line.split()[1]; continue
        parts=line.strip().split(None,1)
        frames.append(parts[1] if len(parts)>1 else parts[0])
    if cur: yield cur, frames
MOD=re.compile(r'file://\S*?/(src/[^:]+|bench/[^:]+|node_modules/[^/]+(?:/[^/:]+)?)')
TLS=re.compile(r'ssl|SSL_|EVP_|gcm|aes|TLSWrap|crypto::|ossl_|OPENSSL|sha256|CRYPTO_|BIO_')
GC=re.compile(r'Heap::|Scavenger|MarkCompact|GCTracer|Sweeper|ConcurrentMarking|MinorMS')
def classify(tid, frames, main):
    text=' '.join(frames)
    if tid!=main:
        if 'fdatasync' in text or 'fsync' in text: return 'other thread: fdatasync'
        if 'uv__fs' in text or 'uv__work' in text: return 'other thread: libuv fs'
        if 'compiler' in text or 'Compile' in text: return 'other thread: V8 compiler'
        if GC.search(text): return 'other thread: V8 GC'
        return 'other thread: other'
    i=0; kernel=False
    while i<len(frames) and 'kallsyms' in frames[i]: kernel=True; i+=1
    if kernel:
        ktext=' '.join(frames[:i])
        if 'irq' in ktext and ('net_rx' in ktext or 'softirq' in ktext): kt='kernel: softirq (loopback TCP receive)'
        else:
            u=' '.join(frames[i:i+6])
            if 'epoll' in u: return 'kernel: epoll_wait'
            if TLS.search(u): return 'kernel: socket write/read by TLS'
            if re.search(r'write|send', u): kt='kernel: write/writev'
            elif re.search(r'read|recv', u): kt='kernel: read'
            else: kt='kernel: other'
        return kt
    j=i
    while j<len(frames) and 'JS:' not in frames[j]:
        if TLS.search(frames[j]): return 'TLS (OpenSSL, TLSWrap)'
        if GC.search(frames[j]): return 'GC (main thread)'
        if 'Compile' in frames[j] and 'Builtins' not in frames[j]: return 'V8 compile (main thread)'
        j+=1
    for f in frames[j:]:
        if 'JS:' not in f: continue
        m=MOD.search(f)
        if m: return m.group(1)
    for f in frames[j:]:
        mm=re.search(r'JS:\S*\s+(node:[^: ]+)', f)
        if mm: return 'node JS: '+mm.group(1)
    if j>=len(frames):
        if 'RunMicrotasks' in text: return 'microtask queue'
        return 'native: '+re.sub(r'\+0x.*','',frames[0].split(' ',1)[-1])[:50] if frames else '?'
    return 'JS other'
def group(cat):
    if cat.startswith('src/rpc/'): return 'RPC layer: frame parse, dispatch, reply encode, socket writes (src/rpc)'
    if cat in ('src/metaserver/service.ts','src/metaserver/authz.ts','src/metaserver/server.ts','src/common/status.ts'): return 'service handlers, authz, errors (service.ts, authz.ts, status.ts)'
    if cat=='src/metaserver/metrics.ts': return 'request metrics (metrics.ts + prom-client)'
    if cat.startswith('node_modules/prom-client'): return 'request metrics (metrics.ts + prom-client)'
    if cat=='src/metaserver/copyset/op-codec.ts' or cat.startswith('node_modules/@bufbuild'): return 'op encode/decode (op-codec.ts + protobuf-es)'
    if cat.startswith('src/metaserver/copyset/'): return 'copyset: propose, read barrier, apply dispatch (copyset.ts, raft-group.ts, state-machine.ts)'
    if cat.startswith('src/metaserver/partition/') or cat.startswith('src/metaserver/tx/'): return 'partition apply + request table (partition/, tx/)'
    if cat.startswith('src/raft/log') or cat=='src/raft/storage.ts': return 'Raft log: record encode, write calls (JS)'
    if cat.startswith('src/raft/'): return 'Raft: core, driver, wire batches (JS)'
    if cat=='kernel: write/writev': return 'kernel: write(2) — nearly all the Raft log, written inline on the main thread'
    if cat.startswith('TLS') or cat=='kernel: socket write/read by TLS': return 'TLS: OpenSSL + TLSWrap + its socket syscalls'
    if cat.startswith('kernel: softirq'): return 'kernel: loopback TCP receive (softirq)'
    if cat.startswith('kernel'): return 'kernel: epoll_wait, read, other'
    if cat.startswith('node JS'): return 'node: streams, net, microtask/tick queues'
    if 'compiler' in cat or 'compile' in cat: return 'V8: optimizing compiler'
    if 'GC' in cat: return 'V8: GC'
    if cat.startswith('src/'): return 'other src'
    if cat.startswith('node_modules'): return 'other node_modules'
    return 'native other (libc, node, V8 builtins)'
cols=[]
for spec in sys.argv[1:]:
    path,tid,us=spec.split(':')
    c=collections.Counter(); total=0
    for t,fr in samples(path):
        c[group(classify(t,fr,tid))]+=1; total+=1
    cols.append((c,total,float(us)))
keys=sorted(set(k for c,_,_ in cols for k in c), key=lambda k:-cols[0][0][k])
for k in keys:
    print('| '+k+' | '+' | '.join(f'{100*c[k]/t:.1f} % · {us*c[k]/t:.0f} µs' for c,t,us in cols)+' |')
