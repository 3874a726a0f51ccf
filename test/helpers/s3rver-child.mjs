// Child process: an s3rver (S3-protocol server) on a loopback port chosen by the OS, storing in
// the given directory, with the given bucket created. Prints {"port": N} on stdout once
// listening; exits when its stdin closes (the parent died or is done) or on SIGTERM.
import S3rver from 's3rver';

const [directory, bucket] = process.argv.slice(2);
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
