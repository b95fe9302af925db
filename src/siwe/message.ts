// EIP-4361 messages: build the exact text we ask a wallet to sign. Rendering and grammar are the
// `siwe` library's; the checks a server relies on are ours, because the reference parsers have been
// lenient (missing nonce, issued-at, bad dates). The login never parses a signed message: it compares
// it byte for byte with the one it issued (challenge.ts); parsing lives in conformance.ts.
import { SiweMessage } from 'siwe';
import { getAddress } from 'ethers';
import { AppError } from '../errors.ts';

export interface SiweFields {
  scheme?: string | undefined;
  domain: string;
  address: string;
  statement?: string | undefined;
  uri: string;
  version: string;
  chainId: number;
  nonce: string;
  issuedAt: string;
  expirationTime?: string | undefined;
  notBefore?: string | undefined;
  requestId?: string | undefined;
  resources?: string[] | undefined;
}

// RFC 3339 date-time, as EIP-4361 §"Message Format" requires (ISO 8601 alone is too loose).
const RFC3339 = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$/;
// EIP-4361: nonce = 8*( ALPHA / DIGIT ).
const NONCE = /^[A-Za-z0-9]{8,}$/;
// EIP-4361: statement = *( reserved / unreserved / " " ), no line break.
const STATEMENT = /^[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;= ]*$/;

export function invalid(description: string): never {
  throw new AppError('invalid_message', description);
}

/** RFC 3339 §5.7: the day must exist in its month (Date.parse would roll 2022-02-31 over to March). */
export function isRfc3339(value: string): boolean {
  if (!RFC3339.test(value)) return false;
  const [year, month, day] = value.slice(0, 10).split('-').map(Number) as [number, number, number];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return day <= daysInMonth && !Number.isNaN(Date.parse(value));
}

/** Every field our server depends on, checked by us whatever the library accepted. */
export function checkFields(f: SiweFields): void {
  if (typeof f.domain !== 'string' || f.domain.length === 0 || /[\s/]/.test(f.domain)) invalid('domain is missing or malformed');
  let checksummed: string;
  try {
    checksummed = getAddress(f.address);
  } catch {
    invalid('address is not an Ethereum address');
  }
  if (checksummed !== f.address) invalid('address must be EIP-55 checksummed');
  if (f.version !== '1') invalid('version must be 1');
  if (!Number.isSafeInteger(f.chainId) || f.chainId < 1) invalid('chainId must be a positive integer');
  if (typeof f.nonce !== 'string' || !NONCE.test(f.nonce)) invalid('nonce must be at least 8 alphanumeric characters');
  if (typeof f.issuedAt !== 'string' || !isRfc3339(f.issuedAt)) invalid('issuedAt must be an RFC 3339 date-time');
  if (f.expirationTime !== undefined && !isRfc3339(f.expirationTime)) invalid('expirationTime must be an RFC 3339 date-time');
  if (f.notBefore !== undefined && !isRfc3339(f.notBefore)) invalid('notBefore must be an RFC 3339 date-time');
  // The grammar allows an empty Request ID, but the library would drop the line when rendering; we never issue one.
  if (f.requestId !== undefined && f.requestId.length === 0) invalid('requestId must not be empty');
  if (f.statement !== undefined && !STATEMENT.test(f.statement)) invalid('statement has characters EIP-4361 does not allow');
  if (typeof f.uri !== 'string' || !URL.canParse(f.uri)) invalid('uri must be an absolute URI');
  for (const r of f.resources ?? []) if (typeof r !== 'string' || !URL.canParse(r)) invalid('each resource must be an absolute URI');
}

/** Renders fields into the exact EIP-4361 text; throws `invalid_message` for fields the grammar or our checks refuse. */
export function buildSiweMessage(fields: SiweFields): string {
  checkFields(fields);
  let message: SiweMessage;
  try {
    // The constructor renders the fields and parses the text back with the ABNF grammar.
    message = new SiweMessage({ ...fields });
  } catch (err) {
    invalid(`fields do not form a valid EIP-4361 message: ${String((err as Error)?.message ?? err)}`);
  }
  return message.prepareMessage();
}

/** The address line of an EIP-4361 message (its second line), read without parsing the rest; undefined when it is not one. */
export function messageAddress(message: string): string | undefined {
  const line = message.split('\n', 2)[1];
  return line !== undefined && /^0x[0-9a-fA-F]{40}$/.test(line) ? line : undefined;
}
