// Per-phase timings of one build, printed to the daemon's stderr when BERTH_TRACE=phases (bench/build.ts
// reads them to see where a rebuild spends its time). Costs nothing when tracing is off.

export interface BuildTrace {
  /** Records the time since the previous mark under `phase` (repeated phases add up). */
  mark(phase: string): void;
  /** Prints the collected phases (once). */
  done(): void;
}

const OFF: BuildTrace = { mark() {}, done() {} };

export function buildTrace(label: string): BuildTrace {
  if (process.env.BERTH_TRACE !== 'phases') return OFF;
  const start = performance.now();
  let last = start;
  const phases = new Map<string, number>();
  let printed = false;
  return {
    mark(phase) {
      const now = performance.now();
      phases.set(phase, (phases.get(phase) ?? 0) + (now - last));
      last = now;
    },
    done() {
      if (printed) return;
      printed = true;
      const parts = [...phases].map(([k, v]) => `${k}=${v.toFixed(2)}`);
      console.error(
        `berth-trace build ${label} ${parts.join(' ')} total=${(performance.now() - start).toFixed(2)}`,
      );
    },
  };
}
