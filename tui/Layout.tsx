// The screen's layout: event list and state pane side by side, the diff pane under them, then
// the status bar and the prompt/message line; the help overlay replaces the panes. Draws the
// lines screen.ts computed (already cut to width), nothing more. Without colour the whole
// screen is one text node: Ink lays out and measures far fewer nodes per frame.

import { Box, Text } from 'ink';
import { LineText } from './LineText.js';
import type { Line, Screen } from './screen.js';

const RULE: Line = { text: '|', style: 'plain' };

/** Each screen row as the lines (spans) it is made of. */
function screenRows(screen: Screen): Line[][] {
  const body = screen.help
    ? screen.help.map((line) => [line])
    : [
        ...screen.events.map((left, i) => [left, RULE, screen.state[i]!]),
        ...screen.diff.map((line) => [line]),
      ];
  return [...body, [screen.status], [screen.bottom]];
}

export function Layout({ screen, color }: { screen: Screen; color: boolean }) {
  const rows = screenRows(screen);
  if (!color) return <Text>{rows.map((spans) => spans.map((s) => s.text).join('')).join('\n')}</Text>;
  return (
    <Box flexDirection="column" width={screen.width}>
      {rows.map((spans, i) => (
        <Text key={i}>
          {spans.map((span, j) => (
            <LineText key={j} line={span} color={color} />
          ))}
        </Text>
      ))}
    </Box>
  );
}
