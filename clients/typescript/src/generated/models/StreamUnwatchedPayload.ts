// Generated from Herald's AsyncAPI document by tools/generate.mjs (Modelina 5.10.1): do not edit.
import type {GroupKind} from './GroupKind';
/**
 * The stream receives nothing more of a group it watched.
 */
interface StreamUnwatchedPayload {
  'kind': GroupKind;
  /**
   * The group's id (a report's UUID).
   */
  'id': string;
  /**
   * The user who left the group.
   */
  'user_id': string;
  /**
   * UUIDv7 of this SSE event.
   */
  'event_id': string;
  /**
   * When the event was published.
   */
  'occurred_at': string;
}
export type { StreamUnwatchedPayload };
