// A consumer of the generated client, as an application would write it; `npm run check` compiles it.
import { HeraldStream, type ReportProgressPayload } from '../src/stream';

const shared = '0190a4c2-7f1d-7c1e-8000-000000000001'; // a report another user shared with this one
const stream = new HeraldStream({
  baseUrl: 'http://localhost:8000',
  categories: ['reports', 'system'],
  watch: [`report:${shared}`], // its events arrive too, as they do for its owner
});

const progress = new Map<string, number>();
stream.on('report.progress', (payload: ReportProgressPayload, { id }) => {
  progress.set(payload.report_id, payload.percent);
  console.log(`${payload.step}: ${payload.percent.toFixed(0)} % (position ${id ?? 'none'})`);
});
stream.on('report.completed', ({ report_id, download_url, version }) => {
  console.log(`report ${report_id} v${version} is ready at ${download_url}`);
});
stream.on('system.announcement', ({ message }) => console.log(message.toUpperCase()));
stream.on('stream.reset', ({ reason }) => {
  // Events may have been missed: reload the reports (GET /api/v1/reports), then go on.
  const why: 'retention_exceeded' | 'unknown_position' | 'malformed' | 'retention_disabled' | 'groups_changed' =
    reason;
  console.log(`reloading: ${why}`); // groups_changed: your own events were resumed; reload what you watch
});
stream.on('stream.unwatched', ({ kind, id, user_id }) => {
  // The owner stopped sharing it: nothing more of it follows, and the next connection no longer watches it.
  const group: 'report' | 'tenant' = kind;
  console.log(`${user_id} no longer watches ${group} ${id}; still watching ${stream.watching.join(', ') || 'nothing'}`);
});
stream.on('stream.end', ({ reason }) => {
  if (reason === 'credential_expired') console.log('sign in again, then stream.open()');
});
stream.onError((error) => console.error(error.message));

void stream.open();
console.log(`resume from ${stream.lastEventId ?? 'now'}`);
