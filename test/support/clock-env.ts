/**
 * The variables of a shifted test clock (`faketime` sets `LD_PRELOAD` and `FAKETIME*`), to pass
 * on to every process a test starts with an environment of its own: the embedded PostgreSQL,
 * the services, the compiled executables. Empty on a run with the real clock.
 */
export function pickClockEnv(env: Record<string, string | undefined> = process.env): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && (key === 'LD_PRELOAD' || key.startsWith('FAKETIME'))) picked[key] = value;
  }
  return picked;
}
