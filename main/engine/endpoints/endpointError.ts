/** A failure that belongs to one endpoint: the message names it and says what to do. */
export class EndpointError extends Error {
  constructor(
    readonly endpoint: string,
    message: string,
  ) {
    super(message);
    this.name = 'EndpointError';
  }
}
