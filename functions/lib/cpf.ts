/**
 * CPF (Cadastro de Pessoas Físicas): 11 digits, the last two check digits (mod 11). Accepts the
 * usual punctuation (123.456.789-09) and stores digits only. Sequences of one digit repeated
 * pass the arithmetic but are not issued, so they are refused too.
 */
export function normalizeCpf(input: string): string {
  return input.replace(/[.\-\s]/g, "");
}

export function isValidCpf(input: string): boolean {
  const cpf = normalizeCpf(input);
  if (!/^\d{11}$/.test(cpf) || /^(\d)\1{10}$/.test(cpf)) return false;
  const digits = [...cpf].map(Number);
  const check = (length: number) => {
    let sum = 0;
    for (let i = 0; i < length; i++) sum += digits[i]! * (length + 1 - i);
    const rest = (sum * 10) % 11;
    return rest === 10 ? 0 : rest;
  };
  return check(9) === digits[9] && check(10) === digits[10];
}
