/**
 * Plain-text helpers for the operator CLI's tables: no colours and no terminal width guesses, so the output
 * reads the same in a terminal, a CI log and a ticket.
 */

/** Columns padded to their widest cell, separated by two spaces; trailing blanks trimmed. */
export function renderTable(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    widths
      .map((w, i) => (cells[i] ?? '').padEnd(w))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)];
}

/** `2024-06-01 09:30:00Z`: UTC to the second, sortable, the same for every operator whatever their time zone. */
export function formatTime(date: Date | string | undefined): string {
  if (date === undefined || date === '') return '-';
  const d = typeof date === 'string' ? new Date(date) : date;
  if (Number.isNaN(d.getTime())) return String(date);
  return `${d.toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

/** `42s`, `5m 03s`, `2h 07m`, `3d 04h`: two units at most, enough to tell a stuck run from a slow one. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  const s = Math.floor(ms / 1000);
  const two = (n: number) => String(n).padStart(2, '0');
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${two(s % 60)}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${two(m % 60)}m`;
  return `${Math.floor(h / 24)}d ${two(h % 24)}h`;
}

/** `yyyymmddhhmmss` in UTC, for names that sort by time. */
export function compactTimestamp(date: Date): string {
  return date.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

/**
 * An IAM or STS ARN without the `arn:aws:iam::<account>:` head (`user/alice`, `assumed-role/Admin/alice`);
 * anything else unchanged.
 */
export function shortPrincipal(arn: string): string {
  const m = /^arn:aws[a-z-]*:(?:iam|sts)::\d{12}:(.+)$/.exec(arn);
  return m ? m[1] : arn;
}
