import { compactTimestamp, formatDuration, formatTime, renderTable, shortPrincipal } from '../../lambdas/shared/operator/text-format';

describe('renderTable', () => {
  test('columns padded to the widest cell, two spaces apart, no trailing blanks', () => {
    expect(renderTable(['A', 'LONG HEADER', 'C'], [['xxxx', 'y', ''], ['z', '', 'w']])).toEqual(['A     LONG HEADER  C', 'xxxx  y', 'z                  w']);
  });

  test('headers only', () => expect(renderTable(['A', 'B'], [])).toEqual(['A  B']));

  test('short rows are padded', () => expect(renderTable(['A', 'B'], [['1']])).toEqual(['A  B', '1']));
});

describe('formatTime', () => {
  test('UTC to the second', () => expect(formatTime(new Date('2024-06-01T09:30:05.999Z'))).toBe('2024-06-01 09:30:05Z'));
  test('an ISO string', () => expect(formatTime('2024-06-01T11:30:05+02:00')).toBe('2024-06-01 09:30:05Z'));
  test('nothing', () => {
    expect(formatTime(undefined)).toBe('-');
    expect(formatTime('')).toBe('-');
  });
  test('not a time: as given', () => expect(formatTime('yesterday')).toBe('yesterday'));
});

describe('formatDuration', () => {
  test.each([
    [0, '0s'],
    [42_900, '42s'],
    [60_000, '1m 00s'],
    [303_000, '5m 03s'],
    [3_600_000, '1h 00m'],
    [7_620_000, '2h 07m'],
    [86_400_000 * 3 + 3_600_000 * 4, '3d 04h'],
  ])('%d ms → %s', (ms, text) => expect(formatDuration(ms)).toBe(text));

  test('negative or not a number', () => {
    expect(formatDuration(-1)).toBe('-');
    expect(formatDuration(NaN)).toBe('-');
  });
});

test('compactTimestamp: yyyymmddhhmmss in UTC', () => {
  expect(compactTimestamp(new Date('2024-06-01T09:30:05.123Z'))).toBe('20240601093005');
});

describe('shortPrincipal', () => {
  test.each([
    ['arn:aws:iam::123456789012:user/alice', 'user/alice'],
    ['arn:aws:sts::123456789012:assumed-role/Admin/bob', 'assumed-role/Admin/bob'],
    ['arn:aws-us-gov:sts::123456789012:assumed-role/Admin/bob', 'assumed-role/Admin/bob'],
    ['arn:aws:states:eu-central-1:123456789012:execution:x:y', 'arn:aws:states:eu-central-1:123456789012:execution:x:y'],
    ['someone', 'someone'],
  ])('%s → %s', (arn, short) => expect(shortPrincipal(arn)).toBe(short));
});
