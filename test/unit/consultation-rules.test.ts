import {
  CONSULTATION_STATUSES,
  ENDED,
  checkInOpensAt,
  isRefusal,
  transition,
  type ConsultationAction,
  type ConsultationMode,
  type ConsultationStatus,
} from '../../domain/consultation';

const ACTIONS: ConsultationAction[] = ['questionnaire', 'checkIn', 'join', 'start', 'finish', 'payment', 'cancel', 'reschedule'];
const MODES: ConsultationMode[] = ['in_person', 'online'];

/**
 * Every allowed move, written out by hand: `status action mode -> next`. Any triple not listed
 * here must be refused. The table is the specification; the loop below checks all 144 triples.
 */
const ALLOWED = `
  reserved        questionnaire in_person -> reserved
  checked_in      questionnaire in_person -> checked_in
  waiting         questionnaire in_person -> waiting
  reserved        questionnaire online    -> reserved
  checked_in      questionnaire online    -> checked_in
  waiting         questionnaire online    -> waiting
  reserved        checkIn       in_person -> checked_in
  reserved        join          online    -> waiting
  waiting         join          online    -> waiting
  in_consultation join          online    -> in_consultation
  checked_in      start         in_person -> in_consultation
  waiting         start         in_person -> in_consultation
  checked_in      start         online    -> in_consultation
  waiting         start         online    -> in_consultation
  in_consultation finish        in_person -> finished
  in_consultation finish        online    -> finished
  finished        payment       in_person -> paid
  finished        payment       online    -> paid
  reserved        cancel        in_person -> cancelled
  checked_in      cancel        in_person -> cancelled
  waiting         cancel        in_person -> cancelled
  reserved        cancel        online    -> cancelled
  checked_in      cancel        online    -> cancelled
  waiting         cancel        online    -> cancelled
  reserved        reschedule    in_person -> reserved
  reserved        reschedule    online    -> reserved
`;
const allowed = new Map(
  ALLOWED.trim()
    .split('\n')
    .map((line) => {
      const [status, action, mode, , next] = line.trim().split(/\s+/);
      return [`${status} ${action} ${mode}`, next as ConsultationStatus] as const;
    }),
);

const triples = CONSULTATION_STATUSES.flatMap((status) => ACTIONS.flatMap((action) => MODES.map((mode) => [status, action, mode] as const)));

describe('the consultation transition table', () => {
  it('lists only real statuses, actions and modes', () => {
    expect(allowed.size).toBe(26);
    for (const key of allowed.keys()) expect(triples.map((t) => t.join(' '))).toContain(key);
  });

  it.each(triples)('%s + %s (%s)', (status, action, mode) => {
    const result = transition(status, action, mode);
    const expected = allowed.get(`${status} ${action} ${mode}`);
    if (expected) {
      expect(result).toBe(expected);
      expect(isRefusal(result)).toBe(false);
    } else {
      expect(isRefusal(result)).toBe(true);
      expect((result as { refused: string }).refused).toMatch(new RegExp(`^cannot [a-z ]+ a consultation that is ${status.replace('_', ' ')}`));
    }
  });

  it('says why the wrong mode is refused', () => {
    expect(transition('reserved', 'checkIn', 'online')).toEqual({ refused: 'cannot check in a consultation that is reserved (online consultations join instead)' });
    expect(transition('reserved', 'join', 'in_person')).toEqual({ refused: 'cannot join a consultation that is reserved (in-person consultations check in)' });
    expect(transition('checked_in', 'checkIn', 'in_person')).toEqual({ refused: 'cannot check in a consultation that is checked in' });
    expect(transition('reserved', 'payment', 'in_person')).toEqual({ refused: 'cannot record a payment for a consultation that is reserved' });
  });

  it('refuses every action once a consultation has ended', () => {
    expect([...ENDED].sort()).toEqual(['cancelled', 'completed', 'no_show']);
    for (const status of ENDED) for (const action of ACTIONS) for (const mode of MODES) expect(isRefusal(transition(status, action, mode))).toBe(true);
  });

  it('accepts nothing on a paid visit (the workflow completes it by itself)', () => {
    for (const action of ACTIONS) for (const mode of MODES) expect(isRefusal(transition('paid', action, mode))).toBe(true);
  });

  const walk = (mode: ConsultationMode, actions: ConsultationAction[]) =>
    actions.reduce<ConsultationStatus[]>((path, action) => {
      const next = transition(path[path.length - 1]!, action, mode);
      if (isRefusal(next)) throw new Error(next.refused);
      return [...path, next];
    }, ['reserved']);

  it('walks the in-person path from booking to payment', () => {
    expect(walk('in_person', ['reschedule', 'questionnaire', 'checkIn', 'questionnaire', 'start', 'finish', 'payment'])).toEqual([
      'reserved', 'reserved', 'reserved', 'checked_in', 'checked_in', 'in_consultation', 'finished', 'paid',
    ]);
  });

  it('walks the online path: joining again (patient, then doctor) keeps the state', () => {
    expect(walk('online', ['questionnaire', 'join', 'join', 'start', 'join', 'finish', 'payment'])).toEqual([
      'reserved', 'reserved', 'waiting', 'waiting', 'in_consultation', 'in_consultation', 'finished', 'paid',
    ]);
  });

  it('allows a reschedule only before anyone has arrived', () => {
    expect(transition('reserved', 'reschedule', 'in_person')).toBe('reserved');
    for (const status of ['checked_in', 'waiting', 'in_consultation', 'finished'] as const) {
      expect(isRefusal(transition(status, 'reschedule', 'in_person'))).toBe(true);
      expect(isRefusal(transition(status, 'reschedule', 'online'))).toBe(true);
    }
  });

  it('allows a cancel until the consultation starts, not after', () => {
    for (const status of ['in_consultation', 'finished', 'paid'] as const) expect(isRefusal(transition(status, 'cancel', 'in_person'))).toBe(true);
  });
});

describe('when check-in opens (checkInOpensAt)', () => {
  const at = (iso: string) => Date.parse(iso);
  const TEN_MINUTES = 600;

  it('opens at 00:00 in Japan on the visit\'s day, which is 15:00 UTC the day before', () => {
    // 10:00 JST on 2026-12-10 is 01:00 UTC the same day; its Japanese day began at 2026-12-09T15:00Z.
    expect(new Date(checkInOpensAt(at('2026-12-10T01:00:00Z'), TEN_MINUTES)).toISOString()).toBe('2026-12-09T15:00:00.000Z');
    // 23:30 JST on 2026-12-10 is 14:30 UTC: the same Japanese day, the same opening, though UTC says otherwise for 10:00.
    expect(new Date(checkInOpensAt(at('2026-12-10T14:30:00Z'), TEN_MINUTES)).toISOString()).toBe('2026-12-09T15:00:00.000Z');
  });

  it('opens with the video room when that is earlier: a visit at 00:05 in Japan can be checked in at 23:55 the evening before', () => {
    expect(new Date(checkInOpensAt(at('2026-12-09T15:05:00Z'), TEN_MINUTES)).toISOString()).toBe('2026-12-09T14:55:00.000Z');
    // A room that opens 7 days ahead opens check-in as early.
    expect(new Date(checkInOpensAt(at('2026-12-10T01:00:00Z'), 7 * 86_400)).toISOString()).toBe('2026-12-03T01:00:00.000Z');
  });

  it('never opens after the visit has started', () => {
    for (const start of ['2026-12-09T15:00:00Z', '2026-12-10T01:00:00Z', '2026-12-10T14:55:00Z']) {
      expect(checkInOpensAt(at(start), 0)).toBeLessThanOrEqual(at(start));
    }
  });
});
