// Method ids on the wire: FNV-1a (32-bit) of "package.Service/Method". A hash, not an index, so
// adding or reordering methods in a .proto never renumbers existing ones, and client and server
// agree without a handshake. The server refuses to register two names with the same id.
import type { DescMethod } from '@bufbuild/protobuf';

export function methodIdOf(fullName: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < fullName.length; i++) {
    h ^= fullName.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h >>>= 0;
  // 0 is reserved ("no method") on the wire.
  return h === 0 ? 1 : h;
}

/** "curvefs.rpctest.RpcTestService/Echo" for a protobuf-es method descriptor. */
export function methodFullName(method: DescMethod): string {
  return `${method.parent.typeName}/${method.name}`;
}

export function methodIdOfDesc(method: DescMethod): number {
  return methodIdOf(methodFullName(method));
}
