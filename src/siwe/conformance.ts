// EIP-4361 as a spec, for the conformance tests (the peer implementations' vectors): parsing any
// message and checking its bindings the way §"Verifying a signed message" describes. The login itself
// needs neither: it issues the message and compares what comes back byte for byte (challenge.ts).
import { SiweMessage } from 'siwe';
import { AppError } from '../errors.ts';
import { checkFields, invalid, type SiweFields } from './message.ts';

export interface Expectations {
  /** Verification time. */
  now: Date;
  domain?: string;
  nonce?: string;
  scheme?: string;
}

/** Throws the reason code for the first binding the message breaks (EIP-4361 §"Verifying a signed message"). */
export function checkBindings(f: SiweFields, expect: Expectations): void {
  const now = expect.now.getTime();
  if (f.expirationTime !== undefined && now >= Date.parse(f.expirationTime)) {
    throw new AppError('expired', 'the message has expired; ask for a new challenge');
  }
  if (f.notBefore !== undefined && now < Date.parse(f.notBefore)) {
    throw new AppError('expired', 'the message is not valid yet');
  }
  if (expect.domain !== undefined && f.domain !== expect.domain) {
    throw new AppError('domain_mismatch', `the message is for ${f.domain}, not ${expect.domain}`);
  }
  if (expect.scheme !== undefined && (f.scheme ?? 'https') !== expect.scheme) {
    throw new AppError('domain_mismatch', 'the message names another scheme');
  }
  if (expect.nonce !== undefined && f.nonce !== expect.nonce) {
    throw new AppError('message_mismatch', 'the message carries another nonce');
  }
}

/** Parses EIP-4361 text; throws `invalid_message` when the grammar or our checks refuse it. */
export function parseSiweMessage(text: string): SiweFields {
  let m: SiweMessage;
  try {
    m = new SiweMessage(text);
  } catch (err) {
    invalid(`not an EIP-4361 message: ${String((err as Error)?.message ?? err)}`);
  }
  const fields: SiweFields = {
    scheme: m.scheme ?? undefined,
    domain: m.domain,
    address: m.address,
    statement: m.statement ?? undefined,
    uri: m.uri,
    version: m.version,
    chainId: m.chainId,
    nonce: m.nonce,
    issuedAt: m.issuedAt as string,
    expirationTime: m.expirationTime ?? undefined,
    notBefore: m.notBefore ?? undefined,
    requestId: m.requestId ?? undefined,
    resources: m.resources ?? undefined,
  };
  checkFields(fields);
  return fields;
}
