// The generated message codecs (src/rpc/codec.ts) against protobuf-es: for every request and
// answer of every service, sample messages encode to the same bytes and decode to the same
// message (deep, strict); the services' hot messages are generated, not left to protobuf-es;
// bad input is refused with an error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create, createFileRegistry, fromBinary, toBinary, type DescMessage, type DescService } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { codecOf, Reader, Writer } from '../../src/rpc/codec.ts';
import { rng, sample } from '../helpers/proto-sample.ts';
import * as metaserver from '../../src/gen/metaserver_pb.ts';
import * as mds from '../../src/gen/mds_pb.ts';
import * as topology from '../../src/gen/topology_pb.ts';
import * as heartbeat from '../../src/gen/heartbeat_pb.ts';
import * as raft from '../../src/gen/raft_pb.ts';
import * as rpctest from '../../src/gen/rpctest_pb.ts';

function services(): DescService[] {
  const out: DescService[] = [];
  for (const mod of [metaserver, mds, topology, heartbeat, raft, rpctest]) {
    for (const v of Object.values(mod)) if ((v as { kind?: string }).kind === 'service') out.push(v as DescService);
  }
  return out;
}

function messages(): DescMessage[] {
  const seen = new Set<DescMessage>();
  for (const s of services()) for (const m of s.methods) seen.add(m.input).add(m.output);
  return [...seen];
}

test('every request and answer of every service: the same bytes and the same messages as protobuf-es', () => {
  const r = rng(20261207);
  let generated = 0;
  for (const desc of messages()) {
    const codec = codecOf(desc);
    if (codec.generated) generated++;
    for (let i = 0; i < 40; i++) {
      const init = i === 0 ? {} : sample(desc, r, 3);
      const expected = toBinary(desc, create(desc, init as never));
      const bytes = codec.encode(init);
      assert.deepEqual(Buffer.from(bytes), Buffer.from(expected), `${desc.typeName} sample ${i}: encoded bytes`);
      // A payload seen through a Buffer view of a larger receive buffer, as the channel hands it.
      const big = Buffer.alloc(expected.length + 16, 0xee);
      big.set(expected, 8);
      const view = big.subarray(8, 8 + expected.length);
      assert.deepStrictEqual(codec.decode(view), fromBinary(desc, expected), `${desc.typeName} sample ${i}: decoded message`);
    }
  }
  assert.ok(generated > 0);
});

test('every request and answer of the metaserver service has a generated codec', () => {
  for (const s of [metaserver.MetaServerService]) {
    for (const m of s.methods) {
      assert.ok(codecOf(m.input).generated, `${m.input.typeName} generated`);
      assert.ok(codecOf(m.output).generated, `${m.output.typeName} generated`);
    }
  }
});

test('a decoded message keeps no view of the payload', () => {
  const desc = metaserver.GetDentryResponseSchema;
  const init = { dentry: { name: 'abc', inodeId: 5 }, inode: { inodeId: 5, xattr: { k: new Uint8Array([1, 2, 3]) } } };
  const bytes = Buffer.from(codecOf(desc).encode(init));
  const m = codecOf(desc).decode(bytes) as { inode: { xattr: Record<string, Uint8Array> } };
  bytes.fill(0);
  assert.deepEqual([...m.inode.xattr.k!], [1, 2, 3]);
});

test('bad input is refused with an error', () => {
  const desc = metaserver.GetDentryResponseSchema;
  const codec = codecOf(desc);
  const good = codec.encode({ dentry: { name: 'some name', inodeId: 77 }, appliedIndex: 9 });
  // Every truncation: an error where protobuf-es has one, else (a cut between fields) its message.
  let refused = 0;
  for (let cut = 1; cut < good.length; cut++) {
    const part = good.subarray(0, cut);
    let expected: unknown;
    try {
      expected = fromBinary(desc, part);
    } catch {
      assert.throws(() => codec.decode(part), Error, `cut at ${cut}`);
      refused++;
      continue;
    }
    assert.deepStrictEqual(codec.decode(part), expected, `cut at ${cut}`);
  }
  assert.ok(refused > good.length / 2);
  assert.throws(() => codec.decode(Uint8Array.from([0x00, 0x00])), /field number 0/);
  assert.throws(() => codec.decode(Uint8Array.from([0x7f])), /wire type 7/); // field 15, wire type 7
  assert.throws(() => codec.decode(Uint8Array.from([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])), /varint/);
  const req = codecOf(metaserver.GetDentryRequestSchema);
  assert.throws(() => req.encode({ p: { poolId: -1 } }), /uint32/);
  assert.throws(() => req.encode({ p: { poolId: 1.5 } }), /uint32/);
  assert.throws(() => req.encode({ name: 5 }), /string/);
  // A failed encode leaves the shared writer clean for the next one.
  assert.deepEqual(Buffer.from(req.encode({ name: 'x' })), Buffer.from(toBinary(metaserver.GetDentryRequestSchema, create(metaserver.GetDentryRequestSchema, { name: 'x' }))));
});

test('lengths of nested bodies past one varint byte are moved into place', () => {
  for (const n of [127, 128, 16383, 16384, 2_097_152]) {
    const w = new Writer();
    w.u32(10);
    const at = w.begin();
    w.ensure(n);
    w.buf.fill(0xab, w.pos, w.pos + n);
    w.pos += n;
    w.end(at);
    const out = Buffer.from(w.take());
    const r = new Reader(out, out.length);
    assert.equal(r.u32(), 10);
    const end = r.len();
    assert.equal(end - r.pos, n);
    assert.equal(end, out.length);
    assert.ok(out.subarray(r.pos).every((b) => b === 0xab));
  }
});

test('a recursive message type keeps protobuf-es (which bounds the nesting depth)', () => {
  const file = create(FileDescriptorProtoSchema, {
    name: 'rec.proto',
    package: 'rec',
    syntax: 'proto3',
    messageType: [
      {
        name: 'Node',
        field: [
          { name: 'child', number: 1, type: 11, typeName: '.rec.Node', label: 1, jsonName: 'child' },
          { name: 'v', number: 2, type: 13, label: 1, jsonName: 'v' },
        ],
      },
    ],
  });
  const node = createFileRegistry(file, () => undefined).getMessage('rec.Node')!;
  const codec = codecOf(node);
  assert.equal(codec.generated, false);
  assert.deepStrictEqual(codec.decode(codec.encode({ v: 3, child: { v: 4 } })), create(node, { v: 3, child: { v: 4 } }));
});
