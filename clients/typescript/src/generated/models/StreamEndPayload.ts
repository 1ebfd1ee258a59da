// Generated from Herald's AsyncAPI document by tools/generate.mjs (Modelina 5.10.1): do not edit.
import type {EndNotice} from './EndNotice';
/**
 * The server is ending the stream.
 */
interface StreamEndPayload {
  'reason': EndNotice;
  /**
   * UUIDv7 of this SSE event.
   */
  'event_id': string;
  /**
   * When the event was published.
   */
  'occurred_at': string;
}
export type { StreamEndPayload };
