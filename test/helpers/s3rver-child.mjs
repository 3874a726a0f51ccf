// Child process: an s3rver (S3-protocol server) on a loopback port chosen by the OS, storing in
// the given directory, with the given bucket created. Prints {"port": N} on stdout once
// listening; exits when its stdin closes (the parent died or is done) or on SIGTERM. An optional
// third argument, JSON [[accessKeyId, secretAccessKey], ...], adds key pairs it accepts besides
// S3RVER/S3RVER (tests whose credentials are themselves under test).
import S3rver from 's3rver';
import AWSAccount from 's3rver/lib/models/account.js';

const [directory, bucket, keys] = process.argv.slice(2);
for (const [ak, sk] of JSON.parse(keys ?? '[]')) AWSAccount.DUMMY_ACCOUNT.createKeyPair(ak, sk);
const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  directory,
  silent: true,
  configureBuckets: [{ name: bucket, configs: [] }],
});
const address = await server.run();
process.stdout.write(JSON.stringify({ port: address.port }) + '\n');

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  server.close().finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();
