// A frame is one executed event as the log keeps it (design.md "Data flows one way"):
// the input, what it returned, and what it caused.

import type { Effect, EngineEvent, Output } from '../engine/events.js';

export interface Frame {
  event: EngineEvent;
  output: Output;
  effects: Effect[];
}

/** Random access to the frames of a trace; positions are 1-based (`#1` is the first event). */
export interface FrameSource {
  readonly length: number;
  /** The frame of event `position` (1 ≤ position ≤ length). */
  frame(position: number): Frame;
}
