// The Ink root: subscribes to the controller, forwards keys to it (with what the state pane
// shows), and draws the screen at the terminal's size (or a fixed one in tests).

import { useApp, useInput, useStdout } from 'ink';
import { useEffect, useRef, useState } from 'react';
import type { Controller } from './controller.js';
import { keyName } from './keys.js';
import { Layout } from './Layout.js';

export interface AppProps {
  controller: Controller;
  /** Fixed size (tests); default: the terminal's, following resizes. */
  width?: number;
  height?: number;
  color: boolean;
}

/** A character of a burst as a key name (a pasted or tmux-sent line may end with Enter). */
function burstKey(c: string): string {
  if (c === ' ') return 'space';
  if (c === '\r' || c === '\n') return 'enter';
  if (c === '\t') return 'tab';
  if (c === '\x7f' || c === '\b') return 'backspace';
  return c;
}

function useTerminalSize(width?: number, height?: number): [number, number] {
  const { stdout } = useStdout();
  const [size, setSize] = useState<[number, number]>([stdout.columns || 80, stdout.rows || 24]);
  useEffect(() => {
    const onResize = () => setSize([stdout.columns || 80, stdout.rows || 24]);
    stdout.on('resize', onResize);
    return () => void stdout.off('resize', onResize);
  }, [stdout]);
  return [width ?? size[0], height ?? size[1]];
}

export function App({ controller, width, height, color }: AppProps) {
  const { exit } = useApp();
  const [, setVersion] = useState(0);
  const [w, h] = useTerminalSize(width, height);
  useEffect(() => controller.subscribe(() => setVersion((v) => v + 1)), [controller]);
  useEffect(() => controller.onQuit(() => exit()), [controller, exit]);
  const screen = controller.screen(w, h);
  // What the state pane showed when the key came (the last frame, or a fresh one within a burst).
  const shown = useRef(screen);
  shown.current = screen;
  useInput((input, key) => {
    const named = keyName(input, key);
    if (named === undefined) return;
    // A burst of plain characters (a paste, tmux send-keys) arrives as one input.
    const keys = named === input && [...input].length > 1 ? [...input].map(burstKey) : [named];
    keys.forEach((k, i) => {
      const context = i === 0 ? shown.current : controller.screen(w, h);
      controller.key(k, context);
    });
  });
  return <Layout screen={screen} color={color} />;
}
