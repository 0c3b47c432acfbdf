/**
 * Upstash-Retry-Delay: an arithmetic expression over `retried` (the number of attempts already
 * made) giving the wait in milliseconds, e.g. "pow(2, retried) * 1000" or "1000 * (1 + retried)".
 * A tiny recursive-descent evaluator: numbers, `retried`, + - * / %, parentheses and the functions
 * QStash documents. No eval: the expression comes from a request.
 */
const FUNCTIONS: Record<string, (...args: number[]) => number> = {
  pow: Math.pow,
  sqrt: Math.sqrt,
  abs: Math.abs,
  exp: Math.exp,
  floor: Math.floor,
  ceil: Math.ceil,
  round: Math.round,
  min: Math.min,
  max: Math.max,
};

export type RetryDelay = (retried: number) => number;

/** Compiles the expression; throws on a syntax error so the publish can answer 400. */
export function compileRetryDelay(expression: string): RetryDelay {
  const tokens = expression.match(/\d+(?:\.\d+)?|[A-Za-z_]+|[-+*/%(),]|\S/g) ?? [];
  // Validate once with a sample value so bad input fails at publish time, not at retry time.
  const evaluate = (retried: number) => new Parser(tokens, retried).parseAll();
  evaluate(1);
  return (retried) => {
    const value = evaluate(retried);
    return Number.isFinite(value) && value > 0 ? value : 0;
  };
}

class Parser {
  private index = 0;
  constructor(
    private readonly tokens: string[],
    private readonly retried: number,
  ) {}

  parseAll(): number {
    const value = this.sum();
    if (this.index !== this.tokens.length) throw new Error(`unexpected "${this.tokens[this.index]}"`);
    return value;
  }

  private peek(): string | undefined {
    return this.tokens[this.index];
  }

  private take(expected?: string): string {
    const token = this.tokens[this.index++];
    if (token === undefined || (expected !== undefined && token !== expected)) {
      throw new Error(`expected ${expected ?? "a value"} in retry delay expression`);
    }
    return token;
  }

  private sum(): number {
    let value = this.product();
    while (this.peek() === "+" || this.peek() === "-") {
      value = this.take() === "+" ? value + this.product() : value - this.product();
    }
    return value;
  }

  private product(): number {
    let value = this.unary();
    while (this.peek() === "*" || this.peek() === "/" || this.peek() === "%") {
      const op = this.take();
      const right = this.unary();
      value = op === "*" ? value * right : op === "/" ? value / right : value % right;
    }
    return value;
  }

  private unary(): number {
    if (this.peek() === "-") {
      this.take();
      return -this.unary();
    }
    return this.atom();
  }

  private atom(): number {
    const token = this.take();
    if (token === "(") {
      const value = this.sum();
      this.take(")");
      return value;
    }
    if (/^\d/.test(token)) return Number(token);
    if (token === "retried") return this.retried;
    const fn = FUNCTIONS[token];
    if (!fn) throw new Error(`unknown identifier "${token}" in retry delay expression`);
    this.take("(");
    const args = [this.sum()];
    while (this.peek() === ",") {
      this.take();
      args.push(this.sum());
    }
    this.take(")");
    return fn(...args);
  }
}
