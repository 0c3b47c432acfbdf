// biome-ignore lint/suspicious/noExplicitAny: assertions walk arbitrary JSON answers
export type Json = any;

/** The JSON body of a response, typed loosely for assertions. */
export function json(res: Response): Promise<Json> {
  return res.json() as Promise<Json>;
}
