// One styled span of a screen line (screen.ts `Line`). With colour off (NO_COLOR, or not a
// terminal) every style is plain text: the markers in the text (> current event, > selected
// row) still say where the cursor is.

import { Text } from 'ink';
import type { Line } from './screen.js';

export function LineText({ line, color }: { line: Line; color: boolean }) {
  if (!color) return <Text>{line.text}</Text>;
  switch (line.style) {
    case 'current':
      return <Text inverse>{line.text}</Text>;
    case 'selected':
      return <Text color="cyan">{line.text}</Text>;
    case 'header':
      return <Text bold>{line.text}</Text>;
    case 'dim':
      return <Text dimColor>{line.text}</Text>;
    case 'mark':
      return <Text color="yellow">{line.text}</Text>;
    case 'boundary':
      return <Text color="magenta">{line.text}</Text>;
    case 'error':
      return <Text color="red">{line.text}</Text>;
    default:
      return <Text>{line.text}</Text>;
  }
}
