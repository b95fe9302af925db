// Unit tests for building, parsing and checking EIP-4361 messages (src/siwe/message.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from '../../src/errors.ts';
import { buildSiweMessage, checkFields, isRfc3339, type SiweFields } from '../../src/siwe/message.ts';
import { parseSiweMessage } from '../../src/siwe/conformance.ts';

function setup() {
  const fields: SiweFields = {
    domain: 'id.example.com:8443',
    address: '0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2',
    statement: 'Sign in to Acme.',
    uri: 'https://id.example.com:8443',
    version: '1',
    chainId: 1,
    nonce: 'a1b2c3d4e5f6a7b8',
    issuedAt: '2025-01-02T03:04:05.678Z',
    expirationTime: '2025-01-02T03:09:05.678Z',
    requestId: 'uid-123',
    resources: ['https://rp.example.org/callback'],
  };
  /** The fields with some replaced; `undefined` removes an optional field. */
  const withFields = (patch: Partial<SiweFields>): SiweFields => ({ ...fields, ...patch });
  /** Fields as a careless caller could pass them: a required field missing. */
  const without = (key: keyof SiweFields): SiweFields => {
    const copy: Partial<SiweFields> = { ...fields };
    delete copy[key];
    return copy as SiweFields;
  };
  const isInvalidMessage = (e: unknown) => e instanceof AppError && e.code === 'invalid_message';
  return { fields, withFields, without, isInvalidMessage, message: buildSiweMessage(fields) };
}

describe('buildSiweMessage', () => {
  it('renders every field in the EIP-4361 order', () => {
    const { message } = setup();
    assert.equal(
      message,
      [
        'id.example.com:8443 wants you to sign in with your Ethereum account:',
        '0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2',
        '',
        'Sign in to Acme.',
        '',
        'URI: https://id.example.com:8443',
        'Version: 1',
        'Chain ID: 1',
        'Nonce: a1b2c3d4e5f6a7b8',
        'Issued At: 2025-01-02T03:04:05.678Z',
        'Expiration Time: 2025-01-02T03:09:05.678Z',
        'Request ID: uid-123',
        'Resources:',
        '- https://rp.example.org/callback',
      ].join('\n'),
    );
  });

  it('leaves out the optional fields that are absent', () => {
    const { withFields } = setup();
    const message = buildSiweMessage(withFields({ statement: undefined, expirationTime: undefined, requestId: undefined, resources: undefined }));
    assert.equal(
      message,
      [
        'id.example.com:8443 wants you to sign in with your Ethereum account:',
        '0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2',
        '',
        '',
        'URI: https://id.example.com:8443',
        'Version: 1',
        'Chain ID: 1',
        'Nonce: a1b2c3d4e5f6a7b8',
        'Issued At: 2025-01-02T03:04:05.678Z',
      ].join('\n'),
    );
  });

  it('refuses an address that is not EIP-55 checksummed', () => {
    const { withFields, isInvalidMessage } = setup();
    assert.throws(() => buildSiweMessage(withFields({ address: '0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2' })), isInvalidMessage);
  });

  it('refuses an address with a wrong checksum', () => {
    const { withFields, isInvalidMessage } = setup();
    assert.throws(() => buildSiweMessage(withFields({ address: '0xC02AAA39b223FE8D0A0e5C4F27eAD9083C756Cc2' })), isInvalidMessage);
  });

  it('refuses a nonce shorter than 8 characters', () => {
    const { withFields, isInvalidMessage } = setup();
    assert.throws(() => buildSiweMessage(withFields({ nonce: 'a1b2c3d' })), isInvalidMessage);
  });

  it('refuses a nonce with a character other than a letter or a digit', () => {
    const { withFields, isInvalidMessage } = setup();
    assert.throws(() => buildSiweMessage(withFields({ nonce: 'a1b2-c3d4e5' })), isInvalidMessage);
  });

  it('refuses a statement with a line break', () => {
    const { withFields, isInvalidMessage } = setup();
    assert.throws(() => buildSiweMessage(withFields({ statement: 'Sign in to Acme.\nURI: https://evil.example' })), isInvalidMessage);
  });

  it('refuses a statement with a character outside the EIP-4361 set', () => {
    const { withFields, isInvalidMessage } = setup();
    assert.throws(() => buildSiweMessage(withFields({ statement: 'Sign in to "Acme"' })), isInvalidMessage);
  });

  it('refuses a version other than 1', () => {
    const { withFields, isInvalidMessage } = setup();
    assert.throws(() => buildSiweMessage(withFields({ version: '2' })), isInvalidMessage);
  });

  it('refuses a chain id that is not a positive whole number', () => {
    const { withFields, isInvalidMessage } = setup();
    for (const chainId of [0, -1, 1.5, Number.NaN, 2 ** 53]) {
      assert.throws(() => buildSiweMessage(withFields({ chainId })), isInvalidMessage, `chainId ${chainId}`);
    }
  });

  it('refuses timestamps that are not RFC 3339 date-times', () => {
    const { withFields, isInvalidMessage } = setup();
    for (const bad of ['2025-01-02', '2025-01-02 03:04:05Z', '2025-01-02T03:04:05', 'yesterday']) {
      assert.throws(() => buildSiweMessage(withFields({ issuedAt: bad })), isInvalidMessage, `issuedAt ${bad}`);
      assert.throws(() => buildSiweMessage(withFields({ expirationTime: bad })), isInvalidMessage, `expirationTime ${bad}`);
      assert.throws(() => buildSiweMessage(withFields({ notBefore: bad })), isInvalidMessage, `notBefore ${bad}`);
    }
  });

  it('refuses a uri or a resource that is not an absolute URI', () => {
    const { withFields, isInvalidMessage } = setup();
    assert.throws(() => buildSiweMessage(withFields({ uri: '/login' })), isInvalidMessage);
    assert.throws(() => buildSiweMessage(withFields({ resources: ['https://rp.example.org/cb', 'rp.example.org'] })), isInvalidMessage);
  });

  it('refuses a domain that is empty, has a path or has a space', () => {
    const { withFields, isInvalidMessage } = setup();
    for (const domain of ['', 'id.example.com/login', 'id example.com']) {
      assert.throws(() => buildSiweMessage(withFields({ domain })), isInvalidMessage, `domain ${JSON.stringify(domain)}`);
    }
  });
});

describe('parseSiweMessage', () => {
  it('gives back the fields a message was built from', () => {
    const { fields, message } = setup();
    const parsed = parseSiweMessage(message);
    assert.deepEqual(Object.fromEntries(Object.entries(parsed).filter(([, v]) => v !== undefined)), fields);
  });

  it('reads the optional scheme before the domain', () => {
    const { withFields } = setup();
    assert.equal(parseSiweMessage(buildSiweMessage(withFields({ scheme: 'https' }))).scheme, 'https');
  });

  it('refuses text that is not an EIP-4361 message', () => {
    const { isInvalidMessage } = setup();
    assert.throws(() => parseSiweMessage('please sign this'), isInvalidMessage);
    assert.throws(() => parseSiweMessage(''), isInvalidMessage);
  });

  it('refuses a message whose address is not checksummed', () => {
    const { message, isInvalidMessage } = setup();
    assert.throws(
      () => parseSiweMessage(message.replace('0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2', '0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2')),
      isInvalidMessage,
    );
  });

  it('refuses a message whose nonce is shorter than 8 characters', () => {
    const { message, isInvalidMessage } = setup();
    assert.throws(() => parseSiweMessage(message.replace('Nonce: a1b2c3d4e5f6a7b8', 'Nonce: a1b2c3d')), isInvalidMessage);
  });

  it('refuses a message without an issued-at time', () => {
    const { message, isInvalidMessage } = setup();
    assert.throws(() => parseSiweMessage(message.replace('Issued At: 2025-01-02T03:04:05.678Z\n', '')), isInvalidMessage);
  });
});

describe('checkFields', () => {
  it('accepts the fields of a well-formed message', () => {
    const { fields } = setup();
    assert.doesNotThrow(() => checkFields(fields));
  });

  // The reference parsers have accepted these in some versions; our own check must not.
  for (const key of ['domain', 'address', 'uri', 'version', 'chainId', 'nonce', 'issuedAt'] as const) {
    it(`refuses fields without ${key}`, () => {
      const { without, isInvalidMessage } = setup();
      assert.throws(() => checkFields(without(key)), isInvalidMessage);
    });
  }

  it('refuses an issued-at date that does not exist in the calendar', () => {
    const { withFields, isInvalidMessage } = setup();
    assert.throws(() => checkFields(withFields({ issuedAt: '2022-02-31T17:09:38.578Z' })), isInvalidMessage);
  });
});

describe('isRfc3339', () => {
  it('accepts UTC with and without fractional seconds, offsets and lowercase separators', () => {
    for (const value of ['2025-01-02T03:04:05.678Z', '2025-01-02T03:04:05Z', '2021-09-30T16:25:24-02:00', '2021-09-30t16:25:24z', '2024-02-29T00:00:00Z']) {
      assert.equal(isRfc3339(value), true, value);
    }
  });

  it('refuses ISO 8601 forms that RFC 3339 does not allow', () => {
    for (const value of ['2025-01-02', '2025-01-02 03:04:05Z', '2025-01-02T03:04:05', '20250102T030405Z', '2025-01-02T03:04Z']) {
      assert.equal(isRfc3339(value), false, value);
    }
  });

  it('refuses a month, an hour or a minute out of range', () => {
    for (const value of ['2022-13-17T12:45:13.610Z', '2023-03-17T25:45:13.610Z', '2023-03-17T12:60:13.610Z', '2023-03-32T12:45:13.610Z']) {
      assert.equal(isRfc3339(value), false, value);
    }
  });

  it('refuses a day that its month does not have', () => {
    // RFC 3339 §5.7: the day must exist in that month and year.
    for (const value of ['2022-02-31T17:09:38.578Z', '2023-04-31T00:00:00Z', '2022-02-29T00:00:00Z']) {
      assert.equal(isRfc3339(value), false, value);
    }
  });
});
