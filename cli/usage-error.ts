// Errors a user can fix, each with exit status 2: a mistake in how the command was called
// (printed with a pointer to --help), or an input that cannot be used (a missing file, a damaged
// trace; printed as is, naming the file).

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}
