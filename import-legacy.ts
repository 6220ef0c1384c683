// Entry file: wiring only. `bun run db:import-legacy [--source=public.k8s_events] [--batch-rows=2000]`
// copies the rows the Go events-ingester wrote in deviser's table into ours
// (docs/upgrade-from-go.md); the command is lib/storage/legacy-import-command.ts. The executable
// runs this file for `events-stack import-legacy …`.
import { createLogger } from './lib/runtime/log.ts';
import { runLegacyImportCommand } from './lib/storage/legacy-import-command.ts';

const stop = new AbortController();
process.once('SIGINT', () => stop.abort());
process.once('SIGTERM', () => stop.abort());
const code = await runLegacyImportCommand({
  env: process.env,
  // Its flags follow the script (`bun import-legacy.ts …`) or the executable's command word.
  args: process.argv.slice(process.argv[2] === 'import-legacy' ? 3 : 2),
  log: createLogger({ service: 'events-stack-import' }),
  signal: stop.signal,
});
process.exit(code);
