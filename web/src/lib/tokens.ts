/** The session's tokens: in memory, mirrored to localStorage so a reload
 * stays logged in. The user shown in the UI comes from the access token's
 * claims (`sub`, `username`, `is_staff`), so it follows every refresh. */

export interface Tokens {
  accessToken: string;
  refreshToken: string;
}

export interface SessionUser {
  id: string;
  username: string;
  isStaff: boolean;
}

const STORAGE_KEY = 'gaji.auth';

type Listener = (tokens: Tokens | null) => void;

export class TokenStore {
  private tokens: Tokens | null;
  private listeners = new Set<Listener>();

  constructor(private readonly storage: Storage | null = safeLocalStorage()) {
    this.tokens = this.read();
    // Another tab logged in, refreshed or logged out: follow it.
    if (storage && typeof window !== 'undefined' && storage === safeLocalStorage()) {
      window.addEventListener('storage', (event) => {
        if (event.key !== STORAGE_KEY && event.key !== null) return;
        this.tokens = this.read();
        this.emit();
      });
    }
  }

  get accessToken(): string | null {
    return this.tokens?.accessToken ?? null;
  }

  get refreshToken(): string | null {
    return this.tokens?.refreshToken ?? null;
  }

  get current(): Tokens | null {
    return this.tokens;
  }

  set(tokens: Tokens): void {
    this.tokens = tokens;
    this.write();
    this.emit();
  }

  setAccess(accessToken: string): void {
    if (!this.tokens) return;
    this.tokens = { ...this.tokens, accessToken };
    this.write();
    this.emit();
  }

  clear(): void {
    this.tokens = null;
    try {
      this.storage?.removeItem(STORAGE_KEY);
    } catch {
      /* storage unavailable: memory is cleared anyway */
    }
    this.emit();
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(): void {
    for (const listener of this.listeners) listener(this.tokens);
  }

  private read(): Tokens | null {
    try {
      const raw = this.storage?.getItem(STORAGE_KEY);
      if (!raw) return null;
      const value = JSON.parse(raw) as Partial<Tokens>;
      if (typeof value.accessToken === 'string' && typeof value.refreshToken === 'string') {
        return { accessToken: value.accessToken, refreshToken: value.refreshToken };
      }
    } catch {
      /* corrupt or unavailable: logged out */
    }
    return null;
  }

  private write(): void {
    try {
      if (this.tokens) this.storage?.setItem(STORAGE_KEY, JSON.stringify(this.tokens));
    } catch {
      /* quota or privacy mode: the session lives in memory only */
    }
  }
}

function safeLocalStorage(): Storage | null {
  try {
    return typeof window !== 'undefined' ? window.localStorage : null;
  } catch {
    return null;
  }
}

/** The JWT payload, unverified (the server verifies; the UI only reads
 * who it is talking as). Null when the token is not a JWT. */
export function decodeJwt(token: string): Record<string, unknown> | null {
  const part = token.split('.')[1];
  if (!part) return null;
  try {
    const base64 = part.replace(/-/g, '+').replace(/_/g, '/');
    const padded = base64 + '='.repeat((4 - (base64.length % 4)) % 4);
    const binary = atob(padded);
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    const value: unknown = JSON.parse(new TextDecoder().decode(bytes));
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

export function userFromToken(token: string | null): SessionUser | null {
  if (!token) return null;
  const claims = decodeJwt(token);
  if (!claims || typeof claims.sub !== 'string') return null;
  return {
    id: claims.sub,
    username: typeof claims.username === 'string' ? claims.username : '',
    isStaff: claims.is_staff === true,
  };
}
