import { describe, expect, it } from 'vitest';
import { actorParts, duration, relativeTime, shortDigest } from './format';

const now = Date.parse('2026-11-22T12:00:00Z');

describe('relativeTime', () => {
	it('says how long ago in the largest sensible unit', () => {
		expect(relativeTime('2026-11-22T11:59:30Z', now)).toBe('just now');
		expect(relativeTime('2026-11-22T11:48:00Z', now)).toBe('12 min ago');
		expect(relativeTime('2026-11-22T09:00:00Z', now)).toBe('3 h ago');
		expect(relativeTime('2026-11-17T12:00:00Z', now)).toBe('5 d ago');
		expect(relativeTime('2026-09-27T12:00:00Z', now)).toBe('8 wk ago');
	});
	it('treats a few seconds of clock skew as now, and says so for real future times', () => {
		expect(relativeTime('2026-11-22T12:00:20Z', now)).toBe('just now');
		expect(relativeTime('2026-11-22T13:00:00Z', now)).toBe('in the future');
		expect(relativeTime('not a date', now)).toBe('unknown time');
	});
});

describe('duration', () => {
	it('formats seconds, minutes and hours', () => {
		expect(duration(42_000)).toBe('42 s');
		expect(duration(252_000)).toBe('4 min 12 s');
		expect(duration(3_900_000)).toBe('1 h 5 min');
		expect(duration(null)).toBe('—');
		expect(duration(151)).toBe('151 ms');
		expect(duration(0)).toBe('0 ms');
		expect(duration(999.7)).toBe('1 s');
	});
});

describe('actorParts', () => {
	it('splits a person into name, email and profile id', () => {
		expect(actorParts('Priya Shah <priya@acme.example> (profile 1)')).toEqual({ name: 'Priya Shah', email: 'priya@acme.example', profile: 1 });
		expect(actorParts('Ana <b> López <ana@x.example> (profile 12)')).toEqual({ name: 'Ana <b> López', email: 'ana@x.example', profile: 12 });
	});
	it('keeps older entries and the app itself as a name', () => {
		expect(actorParts('Priya Shah')).toEqual({ name: 'Priya Shah', email: null, profile: null });
		expect(actorParts('Release Desk (promotion engine)').name).toBe('Release Desk (promotion engine)');
	});
});

describe('shortDigest', () => {
	it('keeps the algorithm and eight hex characters', () => {
		expect(shortDigest('sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08')).toBe('sha256:9f86d081');
	});
});

import { sentence } from '$ipc';

describe('sentence', () => {
	it('capitalises and ends a Rust error message', () => {
		expect(sentence('the keyring is locked')).toBe('The keyring is locked.');
		expect(sentence('Already fine.')).toBe('Already fine.');
	});
});
