// Cluster commands: run the processes (mds, metaserver, up), look at them (status), and
// inspect snapshot files.
import type { Command } from 'commander';
import type { GlobalOptions } from '../context.ts';

type Globals = () => GlobalOptions;

export function registerClusterCommands(program: Command, g: Globals): void {
  void program;
  void g;
}
