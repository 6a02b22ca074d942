// A mistake in how the command was called: printed with a hint, exit status 2.

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
