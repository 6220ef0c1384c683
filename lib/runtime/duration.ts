const unitMs: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  // Not Go syntax, but retention periods are naturally written in days.
  d: 86_400_000,
};

const part = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h|d)/y;

/**
 * Parses a Go-style duration (`300ms`, `1.5h`, `2h45m`, `0`; plus `d` for days) into
 * milliseconds. Returns undefined for anything else, including negative values.
 */
export function parseDurationMs(text: string): number | undefined {
  const input = text.trim();
  if (input === '0') return 0;
  if (input === '') return undefined;
  let total = 0;
  part.lastIndex = 0;
  while (part.lastIndex < input.length) {
    const at = part.lastIndex;
    const match = part.exec(input);
    if (!match || match.index !== at) return undefined;
    total += Number(match[1]) * unitMs[match[2]!]!;
  }
  return total;
}

/** Formats milliseconds as a compact Go-style duration (`1h30m`, `250ms`) for logs and docs. */
export function formatDurationMs(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  let rest = Math.round(ms / 1000);
  const h = Math.floor(rest / 3600);
  rest -= h * 3600;
  const m = Math.floor(rest / 60);
  const s = rest - m * 60;
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s ? `${s}s` : ''}`;
}
