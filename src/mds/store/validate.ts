// Request checks shared by every store engine, so that both refuse the same bad transactions
// the same way (etcd itself rejects a key named twice in one transaction).
import { CurveError, StatusCode } from '../../common/index.ts';
import type { TxnRequest } from './types.ts';

export function validateTxn(req: TxnRequest): void {
  const seen = new Set<string>();
  for (const op of req.ops) {
    if (op.key.length === 0) throw new CurveError(StatusCode.PARAM_ERROR, 'empty key in transaction');
    if (seen.has(op.key)) throw new CurveError(StatusCode.PARAM_ERROR, `key ${JSON.stringify(op.key)} named twice in one transaction`);
    seen.add(op.key);
  }
  if (req.fence && (req.fence.key.length === 0 || !Number.isSafeInteger(req.fence.revision) || req.fence.revision <= 0)) {
    throw new CurveError(StatusCode.PARAM_ERROR, 'invalid fence');
  }
}
