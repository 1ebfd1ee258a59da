// Generated from Herald's AsyncAPI document by tools/generate.mjs (Modelina 5.10.1): do not edit.

type ResetReason = "retention_exceeded" | "unknown_position" | "malformed" | "retention_disabled" | "groups_changed";
export type { ResetReason };
