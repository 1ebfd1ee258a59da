// One connection to Herald's stream over fetch, parsed as the WHATWG "server-sent events" section says, and
// reconnected with exponential backoff and full jitter. fetch rather than EventSource because EventSource
// keeps the server's `retry:` to itself and reconnects on its own clock: every client of a restarted server
// would come back in the same second.

/** One event as it came: its `event:` name, its `id:` (undefined when it had none) and its `data:`. */
export interface RawEvent {
  name: string;
  id: string | undefined;
  data: string;
}

export interface Target {
  url: string;
  /** Send cookies (the stream cookie), for a stream without a ticket. */
  credentials: boolean;
}

export interface ConnectionOptions {
  /** Where to connect now (called before each attempt: it may fetch a ticket, or throw). */
  target: () => Promise<Target>;
  onEvent: (event: RawEvent) => void;
  onOpen?: () => void;
  onFailure?: (error: Error) => void;
  /** Called before each wait for the next attempt, with the wait (ms). */
  onRetry?: (waitMs: number) => void;
  /** The server said 204: stop for good. */
  onStopped?: () => void;
  /** The first base of the backoff, until the server's `retry:` replaces it (ms). */
  retryMs: number;
  /** The longest wait between two attempts (ms). */
  maxRetryMs: number;
  /** How long a stream must have stayed open for the failures before it to be forgotten (ms). */
  stableMs: number;
  fetch?: typeof fetch;
  random?: () => number;
}

/** The wait before attempt `failures + 1`: anywhere in [0, min(cap, base × 2^failures)) (full jitter). */
export function backoff(base: number, failures: number, cap: number, random: () => number = Math.random): number {
  return Math.floor(random() * Math.min(cap, base * 2 ** Math.min(failures, 30)));
}

/** Splits a byte stream's text into events (lines end with CRLF, LF or CR; an incomplete event is dropped). */
export class EventParser {
  #carry = '';
  #data: string[] = [];
  #name = '';
  #id: string | undefined;
  #hadId = false;
  #first = true;
  constructor(
    private readonly dispatch: (event: RawEvent) => void,
    private readonly retry: (ms: number) => void,
  ) {}

  push(chunk: string): void {
    let text = this.#carry + chunk;
    if (this.#first && text.length > 0) {
      this.#first = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    const end = text.endsWith('\r') ? text.length - 1 : text.length; // a CR may be the first half of CRLF
    const lines = text.slice(0, end).split(/\r\n|\r|\n/);
    this.#carry = lines.pop()! + text.slice(end);
    for (const line of lines) this.#line(line);
  }

  #line(line: string): void {
    if (line === '') {
      if (this.#data.length > 0) {
        this.dispatch({ name: this.#name || 'message', id: this.#hadId ? this.#id : undefined, data: this.#data.join('\n') });
      }
      this.#data = [];
      this.#name = '';
      this.#hadId = false;
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.#data.push(value);
    else if (field === 'event') this.#name = value;
    else if (field === 'id' && !value.includes('\0')) {
      this.#id = value;
      this.#hadId = true;
    } else if (field === 'retry' && /^\d+$/.test(value)) this.retry(Number(value));
  }
}

/** A stream that stays connected until `stop()`, however often it is lost. */
export class Connection {
  readonly #options: ConnectionOptions;
  #run = 0;
  #abort: AbortController | undefined;
  #failures = 0;
  #retryMs: number;
  /** Set by the owner when the server announced its end (`stream.end` with `shutdown`): expected, no failure. */
  expectedEnd = false;

  constructor(options: ConnectionOptions) {
    this.#options = options;
    this.#retryMs = options.retryMs;
  }

  /** The failures in a row so far, and the backoff's base (the server's `retry:` once it sent one). */
  get failures(): number {
    return this.#failures;
  }
  get retryMs(): number {
    return this.#retryMs;
  }

  start(): void {
    this.stop();
    void this.#loop(++this.#run);
  }

  stop(): void {
    this.#run += 1;
    this.#abort?.abort();
    this.#abort = undefined;
  }

  async #loop(run: number): Promise<void> {
    const options = this.#options;
    const random = options.random ?? Math.random;
    while (run === this.#run) {
      const abort = (this.#abort = new AbortController());
      let openedAt: number | undefined;
      let failure: Error | undefined;
      this.expectedEnd = false;
      try {
        const target = await options.target();
        if (run !== this.#run) return;
        const response = await (options.fetch ?? fetch)(target.url, {
          headers: { Accept: 'text/event-stream' },
          credentials: target.credentials ? 'include' : 'same-origin',
          cache: 'no-store',
          signal: abort.signal,
        });
        if (response.status === 204) {
          this.stop();
          options.onStopped?.();
          return;
        }
        const type = response.headers.get('Content-Type') ?? '';
        if (!response.ok || !type.startsWith('text/event-stream') || response.body === null) {
          void response.body?.cancel();
          throw new Error(`the stream was refused (${response.status}); is the credential set and valid?`);
        }
        openedAt = Date.now();
        options.onOpen?.();
        const parser = new EventParser(
          (event) => run === this.#run && options.onEvent(event),
          (ms) => (this.#retryMs = ms),
        );
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done || run !== this.#run) break;
          parser.push(value);
        }
        if (run !== this.#run) return;
        if (!this.expectedEnd) failure = new Error('the stream ended; reconnecting');
      } catch (error) {
        if (run !== this.#run) return;
        failure = error instanceof Error ? error : new Error(String(error));
      }
      if (openedAt !== undefined && Date.now() - openedAt >= options.stableMs) this.#failures = 0;
      if (failure !== undefined) {
        // A stream that ended soon after it opened counts as a failure: the count grows until one stays.
        if (openedAt === undefined || Date.now() - openedAt < options.stableMs) this.#failures += 1;
        options.onFailure?.(failure);
      }
      const wait = backoff(this.#retryMs, this.#failures, options.maxRetryMs, random);
      options.onRetry?.(wait);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        abort.signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
      });
    }
  }
}
