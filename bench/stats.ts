// Shared by the benchmarks: the median of a set of timings.

/** The median (the upper one of an even count) of the samples taken; NaN samples (failed runs) are left out. */
export function median(xs: number[]): number {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : (s[Math.floor(s.length / 2)] as number);
}
