/** An expected start-up failure about the model directory: printed as one line naming the file. */
export class ModelLoadError extends Error {
  override name = 'ModelLoadError';
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`model: ${file}: ${problem}`);
  }
}
