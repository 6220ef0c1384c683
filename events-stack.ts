// Entry file: wiring only. One executable runs either service or the migrations, so an image
// carries the Bun runtime once: `events-stack ingester|presenter|migrate`.
// A module (top-level await), exporting nothing.
export {};

const usage = 'usage: events-stack ingester|presenter|migrate\n';
const [command, ...rest] = process.argv.slice(2);
if (rest.length > 0) {
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
  case '--help':
  case '-h':
    process.stdout.write(usage);
    break;
  default:
    process.stderr.write(usage);
    process.exit(2);
}
