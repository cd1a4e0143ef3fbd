import type { Request } from 'express';

/** The owner of whatever an unauthenticated request creates. */
export const ANONYMOUS = 'anonymous';

/**
 * Who a request acts for: the one place that decides the owner recorded on offer sets, sessions
 * and SRCNet provisions. Until authentication comes everyone is `anonymous`; the auth work puts
 * the token's subject here (AppOptions.identify), and ownership checks then apply for real.
 */
export function requestOwner(req: Request, options: { identify?: (req: Request) => string | undefined }): string {
  return options.identify?.(req) || ANONYMOUS;
}
