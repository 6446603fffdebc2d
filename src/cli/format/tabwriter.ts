// Go's text/tabwriter column layout (as the docker CLI configures it: minwidth 10, tabwidth 1, padding 3,
// padded with spaces). Tab-terminated cells are aligned in blocks of consecutive lines; the text after the
// last tab of a line is not part of any column.

export interface TabwriterOptions {
  minwidth?: number;
  padding?: number;
}

const width = (s: string) => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

/** Lays out tab-separated text the way Go's tabwriter does. */
export function tabwrite(text: string, options: TabwriterOptions = {}): string {
  const minwidth = options.minwidth ?? 10;
  const padding = options.padding ?? 3;
  if (text === '') return '';
  const rawLines = text.split('\n');
  const terminated = rawLines.map((_, i) => i < rawLines.length - 1);
  // a trailing newline leaves an empty last element that is not a line
  if (rawLines.at(-1) === '') {
    rawLines.pop();
    terminated.pop();
  }
  const lines = rawLines.map((l) => l.split('\t'));
  const out: string[] = [];
  const widths: number[] = [];

  const writeLines = (line0: number, line1: number) => {
    for (let i = line0; i < line1; i++) {
      const line = lines[i]!;
      let s = '';
      for (let j = 0; j < line.length; j++) {
        const cell = line[j]!;
        if (j < widths.length && j < line.length - 1)
          s += cell + ' '.repeat(Math.max(0, widths[j]! - width(cell)));
        else s += cell;
      }
      out.push(terminated[i] ? `${s}\n` : s);
    }
  };

  const format = (line0: number, line1: number) => {
    const column = widths.length;
    for (let t = line0; t < line1; t++) {
      if (column >= lines[t]!.length - 1) continue;
      writeLines(line0, t);
      line0 = t;
      let w = minwidth;
      for (; t < line1; t++) {
        const line = lines[t]!;
        if (column >= line.length - 1) break;
        const cw = width(line[column]!) + padding;
        if (cw > w) w = cw;
      }
      widths.push(w);
      format(line0, t);
      widths.pop();
      line0 = t;
    }
    writeLines(line0, line1);
  };

  format(0, lines.length);
  return out.join('');
}
