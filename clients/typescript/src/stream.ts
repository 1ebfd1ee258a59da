// A typed client of Herald's stream. Written by hand; the types come from ./generated (made from the AsyncAPI
// document by tools/generate.mjs), so a new event type in the registry reaches it by regenerating.
//
// Tabs of one user share one connection: they elect a leader with a Web Lock, the leader holds the stream
// (the union of every tab's filter) and passes each event on over a BroadcastChannel, and each tab keeps
// what its own filter lets through. When the leader goes, the next tab in the lock's queue takes over and
// resumes after the last id every tab saw. Without those APIs (or without `user`) each stream connects alone.
import { Connection, type RawEvent, type Target } from './connection';
import {
  AUDIENCES,
  EVENT_NAMES,
  RESUMABLE,
  STREAM_PATH,
  type HeraldEventMap,
  type HeraldEventName,
} from './generated/events';

export * from './generated/events';
export { backoff, Connection, EventParser, type ConnectionOptions, type RawEvent } from './connection';
export * from './http';

/** What a listener gets beside the payload. */
export interface EventMeta<K extends HeraldEventName> {
  name: K;
  /** The event's `id:` (its position), or undefined for `stream.end`, which has none. */
  id: string | undefined;
}

export type Listener<K extends HeraldEventName> = (payload: HeraldEventMap[K], meta: EventMeta<K>) => void;

/** A group written as `<kind>:<id>`, such as `report:<uuid>`: what `?watch=` takes and `stream.unwatched` names. */
export type GroupName = `${HeraldEventMap['stream.unwatched']['kind']}:${string}`;

/** `open`: events flow; `connecting`: (re)connecting; `closed`: until `open()`. */
export type StreamStatus = 'connecting' | 'open' | 'closed';

/** `leader`: this page holds the shared connection; `follower`: another tab does; `alone`: not shared. */
export type StreamRole = 'leader' | 'follower' | 'alone' | 'closed';

export interface HeraldStreamOptions {
  /** Where Herald is: the AsyncAPI document's server, e.g. `https://events.example.com` (a path prefix is kept). */
  baseUrl: string;
  /**
   * The signed-in user's id. Streams of the same user and `baseUrl` in the tabs of one browser profile then
   * share one connection. Without it (or without Web Locks and BroadcastChannel) each connects alone.
   */
  user?: string;
  /** Only events of these categories (all when absent). */
  categories?: readonly string[];
  /**
   * Groups whose events the stream receives too (`?watch=`), such as a report shared with the user
   * (`report:<uuid>`; its `GET /api/v1/reports/{id}` gives the `position` of a stream that watches it). One
   * the user stops being allowed to see ends with `stream.unwatched`, after which it is left out.
   */
  watch?: readonly GroupName[];
  /**
   * Resume after this position: the `position` of `GET /api/v1/reports`, or an id kept from an earlier page.
   * A tab joining a shared stream gets the events after it that the shared stream still holds.
   */
  lastEventId?: string | null;
  /**
   * A fresh single-use ticket (`POST /api/v1/events/tickets`) for each connection. Without it the browser's
   * stream cookie (`POST /api/v1/events/cookie`) authenticates.
   */
  ticket?: () => Promise<string>;
  /** The backoff's base until the server's `retry:` replaces it, in ms (default 1000). */
  retryMs?: number;
  /** The longest wait between two attempts, in ms (default 30 000). */
  maxRetryMs?: number;
  /** How long a connection must stay open before the failures before it are forgotten, in ms (default 10 000). */
  stableMs?: number;
  /** The fetch to connect with (default: the global one). */
  fetch?: typeof fetch;
}

interface Filter {
  categories: readonly string[] | null;
  watch: readonly string[];
}

type Message =
  | { t: 'hello'; tab: string; filter: Filter; after: string | null }
  | { t: 'bye'; tab: string }
  | { t: 'who' }
  | { t: 'event'; event: RawEvent }
  | { t: 'replay'; to: string; events: RawEvent[] }
  | { t: 'status'; status: StreamStatus; position: string | null; rewound?: string }
  | { t: 'failure'; message: string };

/** Recent events kept to replay to a tab that joins, and recent ids kept to drop a repeat. */
const KEPT = 512;
const DEFAULT_SEEN_TIMEOUT_MS = 10_000;

type Locks = { request: (name: string, options: { signal: AbortSignal }, callback: () => Promise<void>) => Promise<void> };

function shareable(options: HeraldStreamOptions): boolean {
  return (
    options.user !== undefined &&
    typeof BroadcastChannel === 'function' &&
    typeof navigator !== 'undefined' &&
    (navigator as { locks?: unknown }).locks !== undefined
  );
}

/**
 * The authenticated user's events, typed by name.
 *
 * `stream.reset` means events may have been missed: reload the state it concerns. `stream.end` with
 * `credential_expired` or `session_revoked` closes this stream (authenticate again, then `open()`); with
 * `shutdown` the stream reconnects, resuming after the last id received. `stream.unwatched` removes its group
 * from `watching`. A lost or refused connection is tried again after a random wait of up to the server's
 * `retry:` times two to the power of the failures in a row (capped); `onError` listeners hear of each.
 */
export class HeraldStream {
  readonly #options: HeraldStreamOptions;
  readonly #tab = Math.random().toString(36).slice(2) + Date.now().toString(36);
  readonly #listeners = new Map<string, Set<(payload: never, meta: never) => void>>();
  readonly #errorListeners = new Set<(error: Error) => void>();
  readonly #statusListeners = new Set<(status: StreamStatus) => void>();
  readonly #categories: readonly string[] | null;
  #watching: Set<GroupName>;
  #lastEventId: string | undefined;
  #status: StreamStatus = 'closed';
  #role: StreamRole = 'closed';
  /** Recent events, to replay to a tab that joins; the event ids of recent events (a repeat is dropped). */
  readonly #recent: RawEvent[] = [];
  readonly #seenEventIds = new Set<string>();
  readonly #waiting = new Map<string, Set<() => void>>();
  /** Every tab's filter, by tab: the leader's connection asks for their union. */
  readonly #members = new Map<string, Filter>();
  #channel: BroadcastChannel | undefined;
  #resign: (() => void) | undefined;
  #abortLock: AbortController | undefined;
  #connection: Connection | undefined;
  #connectedFilter = '';
  /** While this tab joins: the live events that came before the leader's answer (and its replay of older ones). */
  #joining: RawEvent[] | undefined;
  readonly #onPageHide = () => this.#leave();

  constructor(options: HeraldStreamOptions) {
    this.#options = options;
    this.#lastEventId = options.lastEventId ?? undefined;
    this.#watching = new Set(options.watch ?? []);
    this.#categories = options.categories ?? null;
  }

  /** The groups the stream watches: those of the `watch` option that no `stream.unwatched` has named since. */
  get watching(): readonly GroupName[] {
    return [...this.#watching];
  }

  /** The id of the last event received (by any tab sharing the stream): where a new connection resumes. */
  get lastEventId(): string | undefined {
    return this.#lastEventId;
  }

  get status(): StreamStatus {
    return this.#status;
  }

  /** Whether this page holds the connection, follows another tab's, or connects alone. */
  get role(): StreamRole {
    return this.#role;
  }

  /** Call `listener` for each event named `name` that this page's filter lets through; returns its remover. */
  on<K extends HeraldEventName>(name: K, listener: Listener<K>): () => void {
    let listeners = this.#listeners.get(name);
    if (listeners === undefined) this.#listeners.set(name, (listeners = new Set()));
    const stored = listener as unknown as (payload: never, meta: never) => void;
    listeners.add(stored);
    return () => listeners.delete(stored);
  }

  /** Call `listener` each time a connection fails (it is tried again unless closed). */
  onError(listener: (error: Error) => void): () => void {
    this.#errorListeners.add(listener);
    return () => this.#errorListeners.delete(listener);
  }

  /** Call `listener` when the stream opens, is (re)connecting, or closes. */
  onStatus(listener: (status: StreamStatus) => void): () => void {
    this.#statusListeners.add(listener);
    return () => this.#statusListeners.delete(listener);
  }

  /**
   * Resolves once this page has had the event whose payload's `event_id` is `eventId` (its listeners have run,
   * or its filter left it out), at once if it already has; rejects after `timeout` ms. The ids come from the
   * write that recorded the events (`event_ids` of `POST /api/v1/reports`): drop optimistic state then.
   */
  seen(eventId: string, { timeout = DEFAULT_SEEN_TIMEOUT_MS }: { timeout?: number } = {}): Promise<void> {
    if (this.#seenEventIds.has(eventId)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      let waiters = this.#waiting.get(eventId);
      if (waiters === undefined) this.#waiting.set(eventId, (waiters = new Set()));
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        waiters.delete(done);
        if (waiters.size === 0) this.#waiting.delete(eventId);
        reject(new Error(`event ${eventId} was not seen within ${timeout} ms`));
      }, timeout);
      waiters.add(done);
    });
  }

  /** Connect (or join the tab that holds the connection), resuming after `lastEventId` if there is one. */
  async open(): Promise<void> {
    if (this.#role !== 'closed') return;
    this.#setStatus('connecting');
    this.#members.set(this.#tab, this.#filter());
    if (!shareable(this.#options)) {
      this.#role = 'alone';
      this.#connect();
      return;
    }
    const name = `herald-stream ${this.#options.baseUrl} ${this.#options.user}`;
    const channel = (this.#channel = new BroadcastChannel(name));
    channel.onmessage = (message: MessageEvent<Message>) => this.#hear(message.data);
    this.#role = 'follower';
    this.#joining = [];
    this.#post({ t: 'hello', tab: this.#tab, filter: this.#filter(), after: this.#lastEventId ?? null });
    addEventListener('pagehide', this.#onPageHide);
    const abort = (this.#abortLock = new AbortController());
    const locks = (navigator as unknown as { locks: Locks }).locks;
    locks
      .request(name, { signal: abort.signal }, () => new Promise<void>((resign) => this.#lead(resign)))
      .catch(() => undefined); // aborted by close(): this tab stopped waiting
  }

  /** Disconnect for good (until `open()`); another tab takes the shared connection over. */
  close(): void {
    this.#leave();
    this.#setStatus('closed');
  }

  #leave(): void {
    if (this.#role === 'closed') return;
    this.#role = 'closed';
    this.#connection?.stop();
    this.#connection = undefined;
    this.#connectedFilter = '';
    this.#members.clear();
    this.#joining = undefined;
    if (this.#channel !== undefined) {
      this.#post({ t: 'bye', tab: this.#tab });
      this.#channel.close();
      this.#channel = undefined;
      removeEventListener('pagehide', this.#onPageHide);
    }
    this.#abortLock?.abort();
    this.#resign?.();
    this.#resign = undefined;
  }

  #filter(): Filter {
    return { categories: this.#categories, watch: [...this.#watching] };
  }

  #post(message: Message): void {
    this.#channel?.postMessage(message);
  }

  #lead(resign: () => void): void {
    if (this.#role === 'closed') {
      resign();
      return;
    }
    this.#resign = resign;
    this.#role = 'leader';
    this.#joined();
    this.#post({ t: 'who' });
    this.#connect();
  }

  /** The union of every tab's filter: what the one connection asks for. */
  #union(): Filter {
    const filters = [...this.#members.values()];
    const all = filters.some((filter) => filter.categories === null);
    const categories = all ? null : [...new Set(filters.flatMap((filter) => filter.categories ?? []))].sort();
    return { categories, watch: [...new Set(filters.flatMap((filter) => filter.watch))].sort() };
  }

  /** Connect with the union of the filters, unless already connected with it. */
  #connect(): void {
    const union = this.#union();
    const key = JSON.stringify(union);
    if (this.#connection !== undefined && key === this.#connectedFilter) return;
    this.#connectedFilter = key;
    this.#connection?.stop();
    const options = this.#options;
    this.#connection = new Connection({
      target: () => this.#target(union),
      onEvent: (event) => {
        this.#post({ t: 'event', event });
        this.#take(event);
      },
      onOpen: () => this.#shareStatus('open'),
      onRetry: () => this.#shareStatus('connecting'),
      onFailure: (error) => {
        this.#post({ t: 'failure', message: error.message });
        this.#fail(error.message);
      },
      onStopped: () => this.close(),
      retryMs: options.retryMs ?? 1000,
      maxRetryMs: options.maxRetryMs ?? 30_000,
      stableMs: options.stableMs ?? 10_000,
      fetch: options.fetch,
    });
    this.#connection.start();
  }

  async #target(union: Filter): Promise<Target> {
    const query = new URLSearchParams();
    if (union.categories !== null) query.set('categories', union.categories.join(','));
    if (this.#lastEventId !== undefined) query.set('last_event_id', this.#lastEventId);
    for (const group of union.watch) query.append('watch', group);
    const ticket = this.#options.ticket;
    if (ticket !== undefined) {
      try {
        query.set('ticket', await ticket());
      } catch (error) {
        throw new Error(`no stream ticket: ${String(error)}`);
      }
    }
    const search = query.toString();
    const url = `${this.#options.baseUrl.replace(/\/+$/, '')}${STREAM_PATH}${search ? `?${search}` : ''}`;
    return { url, credentials: ticket === undefined };
  }

  #shareStatus(status: StreamStatus): void {
    this.#setStatus(status);
    this.#post({ t: 'status', status, position: this.#lastEventId ?? null });
  }

  #setStatus(status: StreamStatus): void {
    if (status === this.#status) return;
    this.#status = status;
    for (const listener of this.#statusListeners) listener(status);
  }

  #fail(message: string): void {
    for (const listener of this.#errorListeners) listener(new Error(message));
  }

  #hear(message: Message): void {
    if (this.#role === 'closed') return;
    switch (message.t) {
      case 'hello': {
        const known = this.#members.has(message.tab);
        this.#members.set(message.tab, message.filter);
        // A new tab learns every other tab's filter: it may lead later, and it keeps out what they watch.
        if (!known) this.#post({ t: 'hello', tab: this.#tab, filter: this.#filter(), after: null });
        if (this.#role !== 'leader') return;
        if (message.after !== null && !this.#replay(message.tab, message.after)) {
          // A position the shared stream does not keep (a snapshot's): resume from it, for that tab; every
          // other tab drops what comes again, by its id.
          this.#post({ t: 'status', status: this.#status, position: message.after, rewound: message.tab });
          this.#lastEventId = message.after;
          this.#connectedFilter = '';
        } else this.#post({ t: 'status', status: this.#status, position: this.#lastEventId ?? null });
        this.#connect();
        return;
      }
      case 'bye':
        this.#members.delete(message.tab);
        if (this.#role === 'leader') this.#connect();
        return;
      case 'who':
        this.#post({ t: 'hello', tab: this.#tab, filter: this.#filter(), after: null });
        return;
      case 'event':
        if (this.#joining !== undefined) this.#joining.push(message.event);
        else this.#take(message.event);
        return;
      case 'replay':
        if (message.to === this.#tab) for (const event of message.events) this.#take(event);
        return;
      case 'status':
        if (message.rewound !== undefined) {
          // The stream goes back to a joining tab's position: that tab takes what follows in order (what it
          // held comes again); the others keep their position and drop the repeats.
          if (message.rewound === this.#tab) this.#joining = undefined;
          this.#joined();
          this.#setStatus(message.status);
          return;
        }
        this.#joined();
        if (message.position !== null) this.#lastEventId = message.position; // the shared stream's position
        this.#setStatus(message.status);
        return;
      case 'failure':
        this.#fail(message.message);
    }
  }

  /** The leader answered (after its replay) or this tab leads: the live events held meanwhile, in order. */
  #joined(): void {
    const held = this.#joining ?? [];
    this.#joining = undefined;
    for (const event of held) this.#take(event);
  }

  /** Send a joining tab the events after `after`, if they are still kept. */
  #replay(tab: string, after: string): boolean {
    if (after === this.#lastEventId) return true;
    const index = this.#recent.findIndex((event) => event.id === after);
    if (index < 0) return false;
    this.#post({ t: 'replay', to: tab, events: this.#recent.slice(index + 1) });
    return true;
  }

  /** An event of the shared stream: once, whichever way it came; passed on if this page's filter wants it. */
  #take(event: RawEvent): void {
    if (!(EVENT_NAMES as readonly string[]).includes(event.name)) return;
    const name = event.name as HeraldEventName;
    const id = RESUMABLE[name] ? event.id : undefined;
    let payload: HeraldEventMap[HeraldEventName];
    try {
      payload = JSON.parse(event.data) as HeraldEventMap[HeraldEventName];
    } catch {
      return;
    }
    if (id !== undefined) this.#lastEventId = id; // the position on the connection it came from
    // An event is known by its event_id: a position may be written otherwise on another connection.
    const eventId = (payload as { event_id?: unknown }).event_id;
    const key = typeof eventId === 'string' ? eventId : id;
    if (key !== undefined) {
      if (this.#seenEventIds.has(key)) return; // a repeat: the stream resumed from before it
      remember(this.#seenEventIds, key);
    }
    if (id !== undefined) {
      this.#recent.push(event);
      if (this.#recent.length > KEPT) this.#recent.shift();
    }
    if (name === 'stream.unwatched') this.#unwatched(payload as HeraldEventMap['stream.unwatched']);
    if (this.#wants(name, payload)) this.#deliver(name, payload, id);
    if (typeof eventId === 'string') {
      for (const done of this.#waiting.get(eventId) ?? []) done();
      this.#waiting.delete(eventId);
    }
    if (name === 'stream.end') {
      if ((payload as HeraldEventMap['stream.end']).reason === 'shutdown') {
        if (this.#connection !== undefined) this.#connection.expectedEnd = true;
      } else this.close(); // the credential is no good any more: do not reconnect with it
    }
  }

  /** The user lost the group: no tab watches it any more (a watch of it would be refused). */
  #unwatched({ kind, id }: HeraldEventMap['stream.unwatched']): void {
    const group = `${kind}:${id}`;
    for (const [tab, filter] of this.#members) {
      this.#members.set(tab, { ...filter, watch: filter.watch.filter((watched) => watched !== group) });
    }
    if (this.#role === 'leader' || this.#role === 'alone') queueMicrotask(() => this.#connect());
  }

  /** Whether this page's own stream would have received the event (the shared one asks for the union). */
  #wants(name: HeraldEventName, payload: unknown): boolean {
    const fields = payload as Record<string, unknown>;
    if (name === 'stream.unwatched') {
      const group = `${String(fields.kind)}:${String(fields.id)}` as GroupName;
      const had = this.#watching.delete(group);
      return had;
    }
    const audience = AUDIENCES[name];
    if (audience === null) return true; // the stream's own signals concern every tab
    if (this.#categories !== null && !this.#categories.includes(audience.category)) return false;
    if (audience.everyone) return true;
    if (audience.user !== null && fields[audience.user] === this.#options.user) return true;
    const group = audience.group;
    if (group === null) return true;
    const kind = group.kind ?? String(fields[group.kindField ?? '']);
    const name_ = `${kind}:${String(fields[group.field])}`;
    if (this.#watching.has(name_ as GroupName)) return true;
    // Sent for a group this page did not ask to watch: it came for another tab's watch, or for a group every
    // stream of the user is in (its tenant's), which no tab watches.
    return ![...this.#members.values()].some((filter) => filter.watch.includes(name_)) || this.#options.user === undefined;
  }

  #deliver(name: HeraldEventName, payload: HeraldEventMap[HeraldEventName], id: string | undefined): void {
    for (const listener of this.#listeners.get(name) ?? []) {
      try {
        (listener as Listener<typeof name>)(payload, { name, id });
      } catch (error) {
        queueMicrotask(() => {
          throw error; // reported like any uncaught error, without keeping the other listeners from the event
        });
      }
    }
  }
}

function remember(ids: Set<string>, id: string): void {
  ids.add(id);
  if (ids.size > KEPT * 4) ids.delete(ids.values().next().value as string);
}
