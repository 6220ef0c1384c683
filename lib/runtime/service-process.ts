import { ConfigError } from './config.ts';
import { createLogger, errorFields, type Logger } from './log.ts';
import type { Telemetry } from './telemetry.ts';

/**
 * The configuration `load` returns; on a `ConfigError` the process logs every problem as one
 * JSON line (`invalid configuration`) and exits with code 2. Other errors are thrown.
 */
export function loadConfigOrExit<T>(service: string, load: () => T): T {
  try {
    return load();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    createLogger({ service }).error('invalid configuration', { problems: err.problems });
    process.exit(2);
  }
}

/**
 * The started service; when start-up throws, the process logs it (`service failed to start`),
 * flushes telemetry for at most 1 s and exits with code 1.
 */
export async function startOrExit<T>(log: Logger, telemetry: Telemetry, start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (err) {
    log.error('service failed to start', errorFields(err));
    await telemetry.shutdown(1000);
    process.exit(1);
  }
}

/**
 * On the first SIGTERM or SIGINT: logs `shutdown requested`, runs `stop` (which resolves with the
 * exit code), flushes telemetry for at most 3 s and exits. A failing stop exits with code 1.
 */
export function stopOnSignals(log: Logger, telemetry: Telemetry, stop: () => Promise<number>): void {
  let signalled = false;
  const shutdown = async (signal: string) => {
    if (signalled) return;
    signalled = true;
    log.info('shutdown requested', { signal });
    let code = 1;
    try {
      code = await stop();
    } catch (err) {
      log.error('shutdown failed', errorFields(err));
    }
    await telemetry.shutdown(3000);
    process.exit(code);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}
