/** The app's API and who is logged in, for every component. */

import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { useLocation, useNavigate } from 'react-router-dom';
import { isAbort } from './api';
import type { Api } from './endpoints';
import { userFromToken, type SessionUser } from './tokens';

export interface Session {
  api: Api;
  user: SessionUser | null;
  login: (email: string, password: string) => Promise<void>;
  register: (email: string, username: string, password: string) => Promise<void>;
  logout: () => Promise<void>;
  /** Changes the password and keeps the session on the fresh tokens the
   * route answers (every earlier refresh token is revoked). */
  changePassword: (currentPassword: string, newPassword: string) => Promise<void>;
  /** Deletes the account (the password confirms it) and ends the session here. */
  deleteAccount: (password: string) => Promise<void>;
}

const SessionContext = createContext<Session | null>(null);

export function SessionProvider({ api, children }: { api: Api; children: ReactNode }) {
  const { client } = api;
  const [user, setUser] = useState<SessionUser | null>(() => userFromToken(client.tokens.accessToken));
  const navigate = useNavigate();
  const location = useLocation();

  useEffect(() => client.tokens.subscribe((tokens) => setUser(userFromToken(tokens?.accessToken ?? null))), [client]);

  // A refused refresh ends the session: back to the login page.
  useEffect(() => {
    client.onLogout = () => {
      navigate('/login', { state: { from: `${location.pathname}${location.search}`, expired: true } });
    };
    return () => {
      client.onLogout = undefined;
    };
  }, [client, navigate, location.pathname, location.search]);

  const login = useCallback(
    async (email: string, password: string) => {
      const { tokens } = await api.login({ email, password });
      client.tokens.set({ accessToken: tokens.access_token, refreshToken: tokens.refresh_token });
    },
    [api, client],
  );

  const register = useCallback(
    async (email: string, username: string, password: string) => {
      const { tokens } = await api.register({ email, username, password });
      client.tokens.set({ accessToken: tokens.access_token, refreshToken: tokens.refresh_token });
    },
    [api, client],
  );

  const logout = useCallback(async () => {
    const refresh = client.tokens.refreshToken;
    try {
      if (refresh) await api.logout(refresh);
    } catch {
      /* logging out locally is what matters */
    } finally {
      client.tokens.clear();
    }
  }, [api, client]);

  const changePassword = useCallback(
    async (currentPassword: string, newPassword: string) => {
      const { tokens } = await api.changePassword({ current_password: currentPassword, new_password: newPassword });
      client.tokens.set({ accessToken: tokens.access_token, refreshToken: tokens.refresh_token });
    },
    [api, client],
  );

  const deleteAccount = useCallback(
    async (password: string) => {
      await api.deleteAccount(password);
      // The account and its refresh tokens are gone: nothing to log out of server-side.
      client.tokens.clear();
    },
    [api, client],
  );

  const value = useMemo(
    () => ({ api, user, login, register, logout, changePassword, deleteAccount }),
    [api, user, login, register, logout, changePassword, deleteAccount],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside SessionProvider');
  return session;
}

export function useApi(): Api {
  return useSession().api;
}

export interface Resource<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
  setData: (update: T | ((current: T | undefined) => T | undefined)) => void;
}

/** Loads `loader` when `deps` change; aborts the previous load. */
export function useResource<T>(loader: ((signal: AbortSignal) => Promise<T>) | null, deps: unknown[]): Resource<T> {
  const [data, setDataState] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState<boolean>(!!loader);
  const [tick, setTick] = useState(0);

  useEffect(() => {
    if (!loader) {
      setLoading(false);
      return;
    }
    const controller = new AbortController();
    setLoading(true);
    setError(null);
    loader(controller.signal).then(
      (value) => {
        if (controller.signal.aborted) return;
        setDataState(value);
        setLoading(false);
      },
      (err: unknown) => {
        if (controller.signal.aborted || isAbort(err)) return;
        setError(err);
        setLoading(false);
      },
    );
    return () => controller.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);

  const reload = useCallback(() => setTick((t) => t + 1), []);
  const setData = useCallback((update: T | ((current: T | undefined) => T | undefined)) => {
    setDataState((current) =>
      typeof update === 'function' ? (update as (c: T | undefined) => T | undefined)(current) : update,
    );
  }, []);
  return { data, error, loading, reload, setData };
}
