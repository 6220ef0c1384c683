// Entry file: wiring only. One executable runs either service or the migrations, so an image
// carries the Bun runtime once: `events-stack ingester|presenter|migrate|import-legacy`.
// A module (top-level await), exporting nothing.
export {};

const usage = 'usage: events-stack ingester|presenter|migrate|import-legacy [--source=…] [--batch-rows=…]\n';
const [command, ...rest] = process.argv.slice(2);
// Only the import takes flags (its own, parsed by the import script).
if (rest.length > 0 && command !== 'import-legacy') {
  process.stderr.write(usage);
  process.exit(2);
}
switch (command) {
  case 'ingester':
    await import('./ingester.ts');
    break;
  case 'presenter':
    await import('./presenter.ts');
    break;
  case 'migrate':
    await import('./migrate.ts');
    break;
  case 'import-legacy':
    await import('./import-legacy.ts');
    break;
  case '--help':
  case '-h':
    process.stdout.write(usage);
    break;
  default:
    process.stderr.write(usage);
    process.exit(2);
}
