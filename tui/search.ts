// Condition search for the terminal UI's `c` / `C` and `/`-watch jumps: the pure search lives in
// replay/search.ts (shared with `vgicrr bisect`); this module keeps the TUI's import path.

export {
  type Direction,
  findChange,
  holdsAt,
  type SearchOptions,
  type SearchResult,
  searchCondition,
} from '../replay/search.js';
