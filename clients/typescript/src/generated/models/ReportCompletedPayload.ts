// Generated from Herald's AsyncAPI document by tools/generate.mjs (Modelina 5.10.1): do not edit.

/**
 * A report is ready to download (to its owner and its watchers).
 */
interface ReportCompletedPayload {
  'report_id': string;
  'owner_id': string;
  'version': number;
  'download_url': string;
  /**
   * UUIDv7 of this SSE event.
   */
  'event_id': string;
  /**
   * When the event was published.
   */
  'occurred_at': string;
}
export type { ReportCompletedPayload };
