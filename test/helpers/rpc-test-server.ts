// A process that serves RpcTestService, for tests and benchmarks that need the server in another
// process. Usage: node --import tsx test/helpers/rpc-test-server.ts [port]
// Prints "LISTENING <port>" once bound; exits on SIGTERM or when stdin closes.
import { RpcServer } from '../../src/rpc/index.ts';
import { RpcTestService } from '../../src/gen/rpctest_pb.ts';
import { rpcTestImpl } from './rpc-test-service.ts';

const server = new RpcServer({ port: Number(process.argv[2] ?? 0) });
server.register(RpcTestService, rpcTestImpl());
const port = await server.listen();
process.stdout.write(`LISTENING ${port}\n`);
const stop = () => void server.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();
