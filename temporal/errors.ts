import { isGrpcServiceError } from '@temporalio/client';

/** gRPC status codes that mean "try again later" (grpc/status.proto): CANCELLED, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, UNAVAILABLE. */
const RETRYABLE_GRPC = new Set([1, 4, 8, 14]);

/** Temporal is unreachable, overloaded or did not answer before the call's deadline. */
export function isTemporalUnavailable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth += 1) {
    if (isGrpcServiceError(e) && RETRYABLE_GRPC.has(e.code)) return true;
  }
  return false;
}
