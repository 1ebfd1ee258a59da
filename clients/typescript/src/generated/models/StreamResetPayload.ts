// Generated from Herald's AsyncAPI document by tools/generate.mjs (Modelina 5.10.1): do not edit.
import type {ResetReason} from './ResetReason';
/**
 * The client may have missed events and should reload its state.
 */
interface StreamResetPayload {
  'reason': ResetReason;
  /**
   * UUIDv7 of this SSE event.
   */
  'event_id': string;
  /**
   * When the event was published.
   */
  'occurred_at': string;
}
export type { StreamResetPayload };
