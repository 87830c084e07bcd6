// The one way the UI talks to Rust: the generated, typed commands, with their
// `{ status, data | error }` results turned into values or thrown AppErrors.
import { commands, events, type AppError } from './bindings';

export { commands, events };
export type * from './bindings';

export class CommandError extends Error {
	readonly code: string;
	constructor(error: AppError | string) {
		// Tauri itself answers with a bare string when a request cannot be
		// decoded (a bug on our side, never the person's input).
		const e = typeof error === 'string' ? { code: 'invalid_request', message: error } : error;
		super(e.message);
		this.code = e.code;
	}
}

type Outcome<T> = { status: 'ok'; data: T } | { status: 'error'; error: AppError | string };

/** Awaits a generated command and returns its data, or throws a CommandError. */
export async function call<T>(result: Promise<Outcome<T>>): Promise<T> {
	const outcome = await result;
	if (outcome.status === 'error') throw new CommandError(outcome.error);
	return outcome.data;
}

/** Rust error messages start in lower case so they compose; people read sentences. */
export function sentence(message: string): string {
	const trimmed = message.trim();
	const ended = /[.!?]$/.test(trimmed) ? trimmed : `${trimmed}.`;
	return ended.charAt(0).toUpperCase() + ended.slice(1);
}

/** A message for any error a command can produce, for showing to a person. */
export function describe(error: unknown): { code: string; message: string } {
	if (error instanceof CommandError) return { code: error.code, message: sentence(error.message) };
	if (error instanceof Error) return { code: 'internal', message: sentence(error.message) };
	return { code: 'internal', message: sentence(String(error)) };
}
