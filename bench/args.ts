/**
 * The integer value of a benchmark's command-line option, or an Error naming the option and its range
 * (with `usage`, when given, after it). Shared by every script in bench/.
 */
export function integerOption(
  name: string,
  value: string | undefined,
  min: number,
  max: number,
  usage?: string,
): number {
  const parsed = Number(value);
  if (value === undefined || value === "" || !Number.isInteger(parsed) || parsed < min || parsed > max)
    throw new Error(`${name} must be an integer from ${min} to ${max}${usage === undefined ? "" : `\n${usage}`}`);
  return parsed;
}
