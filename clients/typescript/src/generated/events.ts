// Generated from Herald's AsyncAPI document by tools/generate.mjs (Modelina 5.10.1): do not edit.

import type { ReportRequestedPayload } from './models/ReportRequestedPayload';
import type { ReportProgressPayload } from './models/ReportProgressPayload';
import type { ReportCompletedPayload } from './models/ReportCompletedPayload';
import type { ReportFailedPayload } from './models/ReportFailedPayload';
import type { SystemAnnouncementPayload } from './models/SystemAnnouncementPayload';
import type { StreamResetPayload } from './models/StreamResetPayload';
import type { StreamEndPayload } from './models/StreamEndPayload';

export type { ReportRequestedPayload, ReportProgressPayload, ReportCompletedPayload, ReportFailedPayload, SystemAnnouncementPayload, StreamResetPayload, StreamEndPayload };

/** The path of the stream, after the server's address. */
export const STREAM_PATH = "/api/v1/events";

/** Every event the stream sends, by its SSE `event:` name, with the type of its `data:` payload. */
export interface HeraldEventMap {
  /** The owner's report was accepted and is queued. */
  "report.requested": ReportRequestedPayload;
  /** The owner's report finished another generation step. */
  "report.progress": ReportProgressPayload;
  /** The owner's report is ready to download. */
  "report.completed": ReportCompletedPayload;
  /** Generation of the owner's report failed. */
  "report.failed": ReportFailedPayload;
  /** An administrator's message to every user. */
  "system.announcement": SystemAnnouncementPayload;
  /** The client may have missed events and should reload its state. */
  "stream.reset": StreamResetPayload;
  /** The server is ending the stream. */
  "stream.end": StreamEndPayload;
}

/** The name of an event the stream sends. */
export type HeraldEventName = keyof HeraldEventMap;

/** Every event name, in the order of the document. */
export const EVENT_NAMES: readonly HeraldEventName[] = ["report.requested","report.progress","report.completed","report.failed","system.announcement","stream.reset","stream.end"];

/** Whether an event carries an `id:` to resume from (`stream.end` does not: the last id stays). */
export const RESUMABLE: Readonly<Record<HeraldEventName, boolean>> = {
  "report.requested": true,
  "report.progress": true,
  "report.completed": true,
  "report.failed": true,
  "system.announcement": true,
  "stream.reset": true,
  "stream.end": false,
};
