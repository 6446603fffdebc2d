// The event bus behind GET /events: every module publishes here, subscribers filter what they want.
import { EventEmitter } from 'node:events';
import { labelMatches } from '../util/index.js';

export type EventType = 'container' | 'image' | 'network' | 'volume' | 'daemon' | 'builder';

/** Docker's event message shape (swagger EventMessage), plus the legacy top-level fields. */
export interface EngineEvent {
  Type: EventType;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  time: number;
  timeNano: number;
  status?: string;
  id?: string;
  from?: string;
}

const HISTORY = 1000;

export class EventBus {
  private readonly emitter = new EventEmitter();
  private readonly history: EngineEvent[] = [];

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  publish(type: EventType, action: string, id: string, attributes: Record<string, string> = {}): EngineEvent {
    const now = Date.now();
    const event: EngineEvent = {
      Type: type,
      Action: action,
      Actor: { ID: id, Attributes: attributes },
      scope: 'local',
      time: Math.floor(now / 1000),
      timeNano: now * 1_000_000,
    };
    if (type === 'container' || type === 'image') {
      // Older clients read these top-level fields.
      event.status = action;
      event.id = id;
      if (attributes.image) event.from = attributes.image;
    }
    this.history.push(event);
    if (this.history.length > HISTORY) this.history.shift();
    this.emitter.emit('event', event);
    return event;
  }

  /** Past events between `since` and `until` (unix seconds), oldest first. */
  past(since?: number, until?: number): EngineEvent[] {
    return this.history.filter(
      (e) => (since === undefined || e.time >= since) && (until === undefined || e.time <= until),
    );
  }

  subscribe(listener: (event: EngineEvent) => void): () => void {
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }
}

/** Docker's /events filters: type, event/action, container, image, network, volume, label. */
export function eventMatches(event: EngineEvent, filters: Map<string, string[]>): boolean {
  const check = (key: string, pred: (v: string) => boolean) => {
    const values = filters.get(key);
    return !values || values.length === 0 || values.some(pred);
  };
  const attrs = event.Actor.Attributes;
  const idOrName = (v: string) => event.Actor.ID.startsWith(v) || attrs.name === v;
  return (
    check('type', (v) => v === event.Type) &&
    check('event', (v) => v === event.Action || event.Action.startsWith(`${v}:`)) &&
    check('container', (v) => event.Type === 'container' && idOrName(v)) &&
    check('image', (v) => attrs.image === v || (event.Type === 'image' && idOrName(v))) &&
    check('network', (v) => event.Type === 'network' && idOrName(v)) &&
    check('volume', (v) => event.Type === 'volume' && idOrName(v)) &&
    check('label', (v) => labelMatches(attrs, v))
  );
}
