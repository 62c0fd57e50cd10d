// After an ink screen of the exercise flow (the questions, the reveal): lets
// the terminal go entirely. The lab's UI is another process reading the same
// terminal, and a 'readable' listener or a raw mode left here would keep
// taking its keys (its q would never arrive).

export function releaseTerminal(stdin: NodeJS.ReadStream): void {
  if (stdin.isTTY) stdin.setRawMode(false);
  stdin.removeAllListeners('readable');
  stdin.removeAllListeners('data');
  stdin.pause();
}
