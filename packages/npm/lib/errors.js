'use strict';
// An error to print as it is (no stack): the user can act on its message.
// exitCode 2 is a bad command line, 1 anything else (as the native CLI).
class CrossfindError extends Error {
  constructor(message, exitCode = 1) {
    super(message);
    this.exitCode = exitCode;
  }
}

module.exports = { CrossfindError };
