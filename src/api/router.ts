// Route table: patterns are compiled once into segment matchers; lookups split the path once and
// compare segment by segment. Fully static routes are a single Map lookup.
import type { Handler } from './http.js';

type Segment = { kind: 'static'; value: string } | { kind: 'param'; name: string };

interface Route {
  pattern: string;
  handler: Handler;
  /** Segments before a greedy parameter (or all of them when there is none). */
  head: Segment[];
  /** Name of the greedy `:name+` parameter, if any; it takes one or more segments. */
  greedy?: string;
  /** Static segments after the greedy parameter. */
  tail: string[];
  staticCount: number;
  order: number;
}

interface MethodTable {
  statics: Map<string, Handler>;
  /** Non-greedy routes with parameters, bucketed by their number of segments. */
  bySize: Map<number, Route[]>;
  greedy: Route[];
}

export interface RouteMatch {
  handler: Handler;
  params: Record<string, string>;
  pattern: string;
}

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'HEAD'] as const;
export type Method = (typeof METHODS)[number];

function compile(pattern: string, handler: Handler, order: number): Route {
  if (!pattern.startsWith('/')) throw new Error(`route pattern must start with '/': ${pattern}`);
  const parts = pattern.split('/').slice(1);
  const head: Segment[] = [];
  const tail: string[] = [];
  let greedy: string | undefined;
  let staticCount = 0;
  for (const part of parts) {
    if (part.startsWith(':')) {
      if (greedy !== undefined) throw new Error(`route ${pattern}: no parameter may follow a greedy one`);
      if (part.endsWith('+')) greedy = part.slice(1, -1);
      else head.push({ kind: 'param', name: part.slice(1) });
    } else if (greedy !== undefined) {
      tail.push(part);
      staticCount++;
    } else {
      head.push({ kind: 'static', value: part });
      staticCount++;
    }
  }
  return { pattern, handler, head, greedy, tail, staticCount, order };
}

// More static segments first, then registration order: '/images/json' beats '/images/:name+/json'.
const bySpecificity = (a: Route, b: Route) => b.staticCount - a.staticCount || a.order - b.order;

function decode(segment: string): string {
  return segment.includes('%') ? decodeURIComponent(segment) : segment;
}

export class Router {
  private readonly tables = new Map<string, MethodTable>();
  private count = 0;

  get(pattern: string, h: Handler): this {
    return this.add('GET', pattern, h);
  }
  post(pattern: string, h: Handler): this {
    return this.add('POST', pattern, h);
  }
  put(pattern: string, h: Handler): this {
    return this.add('PUT', pattern, h);
  }
  delete(pattern: string, h: Handler): this {
    return this.add('DELETE', pattern, h);
  }
  head(pattern: string, h: Handler): this {
    return this.add('HEAD', pattern, h);
  }

  add(method: Method, pattern: string, handler: Handler): this {
    let table = this.tables.get(method);
    if (!table) {
      table = { statics: new Map(), bySize: new Map(), greedy: [] };
      this.tables.set(method, table);
    }
    const route = compile(pattern, handler, this.count++);
    if (route.greedy === undefined && route.head.every((s) => s.kind === 'static')) {
      if (!table.statics.has(pattern)) table.statics.set(pattern, handler);
      return this;
    }
    if (route.greedy !== undefined) {
      table.greedy.push(route);
      table.greedy.sort(bySpecificity);
    } else {
      const size = route.head.length;
      const list = table.bySize.get(size) ?? [];
      list.push(route);
      list.sort(bySpecificity);
      table.bySize.set(size, list);
    }
    return this;
  }

  /**
   * Finds the handler for a method and a path (without the version prefix or query). Parameters are
   * percent-decoded; a malformed escape throws URIError (the server answers 400).
   */
  match(method: string, path: string): RouteMatch | undefined {
    const table = this.tables.get(method);
    if (!table) return undefined;
    const handler = table.statics.get(path);
    if (handler) return { handler, params: {}, pattern: path };
    const segs = path.split('/').slice(1);
    const sized = table.bySize.get(segs.length);
    if (sized) {
      for (const route of sized) {
        const params = matchHead(route, segs);
        if (params) return { handler: route.handler, params, pattern: route.pattern };
      }
    }
    for (const route of table.greedy) {
      const min = route.head.length + 1 + route.tail.length;
      if (segs.length < min) continue;
      const params = matchHead(route, segs);
      if (!params) continue;
      const end = segs.length - route.tail.length;
      let ok = true;
      for (let i = 0; i < route.tail.length; i++) {
        if (segs[end + i] !== route.tail[i]) {
          ok = false;
          break;
        }
      }
      if (!ok) continue;
      const middle = segs.slice(route.head.length, end);
      if (middle.some((s) => s === '')) continue; // '//' or a trailing slash is not part of a name
      params[route.greedy!] = middle.map(decode).join('/');
      return { handler: route.handler, params, pattern: route.pattern };
    }
    return undefined;
  }

  /** True when some method has a route for the path (used to tell 404s apart in logs). */
  has(path: string): boolean {
    return METHODS.some((m) => this.match(m, path) !== undefined);
  }
}

function matchHead(route: Route, segs: string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (let i = 0; i < route.head.length; i++) {
    const seg = route.head[i]!;
    const value = segs[i]!;
    if (seg.kind === 'static') {
      if (value !== seg.value) return undefined;
    } else {
      if (value === '') return undefined;
      params[seg.name] = decode(value);
    }
  }
  return params;
}
