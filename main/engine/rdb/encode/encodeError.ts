/** A value the encoder cannot write for the RDB version asked (see canHoldLosslessly), or an invalid one. */
export class RdbEncodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RdbEncodeError';
  }
}
