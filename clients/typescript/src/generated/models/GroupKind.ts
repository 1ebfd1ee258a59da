// Generated from Herald's AsyncAPI document by tools/generate.mjs (Modelina 5.10.1): do not edit.

type GroupKind = "tenant" | "report";
export type { GroupKind };
