/**
 * What services need of a logger (pino's shape), so domains log structured
 * lines without depending on the node that wires pino in.
 */
export interface Log {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}
