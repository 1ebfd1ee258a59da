// Generated from Herald's AsyncAPI document by tools/generate.mjs (Modelina 5.10.1): do not edit.
import {ReportRequestedPayload} from './ReportRequestedPayload';
import {ReportProgressPayload} from './ReportProgressPayload';
import {ReportCompletedPayload} from './ReportCompletedPayload';
import {ReportFailedPayload} from './ReportFailedPayload';
import {SystemAnnouncementPayload} from './SystemAnnouncementPayload';
import {StreamResetPayload} from './StreamResetPayload';
import {StreamEndPayload} from './StreamEndPayload';
type Events = ReportRequestedPayload | ReportProgressPayload | ReportCompletedPayload | ReportFailedPayload | SystemAnnouncementPayload | StreamResetPayload | StreamEndPayload;
export { Events };
