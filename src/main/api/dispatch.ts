import { ZodError } from 'zod'
import { argumentSchemas, isApiMethod, type ApiErrorPayload, type ApiHandlers } from '../../shared/api/contract'
import { InputError } from '../io/InputError'
import { TaskCancelledError } from '../workers/WorkerPool'

export type Dispatch = (method: unknown, args: unknown) => Promise<unknown>

/**
 * The one entry point both transports call: checks the method exists, validates the arguments
 * against the contract's schema, runs the handler. Throws `DispatchError` carrying a payload the
 * transport can send as is.
 */
export function createDispatcher(handlers: ApiHandlers): Dispatch {
  return async (method, args) => {
    if (!isApiMethod(method)) {
      throw new DispatchError({ kind: 'unknown-method', message: `unknown API method ${JSON.stringify(method)}` })
    }
    const parsed = argumentSchemas[method].safeParse(args ?? {})
    if (!parsed.success) {
      throw new DispatchError({ kind: 'argument', message: `${method}: invalid arguments: ${formatZodError(parsed.error)}` })
    }
    try {
      return await (handlers[method] as (a: unknown) => Promise<unknown>)(parsed.data)
    } catch (e) {
      throw new DispatchError(toErrorPayload(e))
    }
  }
}

export class DispatchError extends Error {
  constructor(readonly payload: ApiErrorPayload) {
    super(payload.message)
    this.name = 'DispatchError'
  }
}

export function toErrorPayload(e: unknown): ApiErrorPayload {
  if (e instanceof DispatchError) return e.payload
  if (e instanceof InputError) return { kind: 'input', message: e.message }
  if (e instanceof TaskCancelledError) return { kind: 'cancelled', message: e.message }
  const err = e as Error
  return { kind: 'internal', message: err?.message ?? String(e) }
}

function formatZodError(error: ZodError): string {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(arguments)'}: ${i.message}`).join('; ')
}
