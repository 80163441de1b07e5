import { lazy, Suspense, useEffect, useRef, type ReactNode } from 'react';
import { HashRouter, Route, Routes, useLocation } from 'react-router-dom';
import { Layout } from './components/Layout';
import type { Api } from './lib/endpoints';
import { SessionProvider } from './lib/session';
import { AccountPage } from './pages/AccountPage';
import { ForgotPasswordPage, LoginPage, RegisterPage, ResetPasswordPage } from './pages/AuthPages';
import { Loading } from './components/common';
import { IngestPage } from './pages/IngestPage';
import { MessageSearchPage } from './pages/MessageSearchPage';
import { HomePage, LikedPage, NotFoundPage } from './pages/MiscPages';
import { NovelDetailPage, NovelsPage } from './pages/NovelPages';
import { ProfilePage } from './pages/ProfilePage';
import { ScenarioSearchPage, ScenariosPage } from './pages/ScenarioListPages';
import { ScenarioCreatePage, ScenarioDetailPage } from './pages/ScenarioPages';
import { SettingsPage } from './pages/SettingsPage';

/** Loaded on first visit, to keep the first download under Vite's 500 kB:
 * the library (imports and exports; most readers never open it) and the
 * conversation page (the largest: streaming, memory, scene and prompt panels). */
const LibraryPage = lazy(() => import('./pages/LibraryPage').then((m) => ({ default: m.LibraryPage })));
const ConversationPage = lazy(() => import('./pages/ConversationPage').then((m) => ({ default: m.ConversationPage })));

function Lazy({ children }: { children: ReactNode }) {
  return <Suspense fallback={<Loading />}>{children}</Suspense>;
}

/** On a new page: back to the top, focus on the content (screen readers
 * hear the new page; keyboard users start from it). */
function PageChange() {
  const { pathname } = useLocation();
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    window.scrollTo?.(0, 0);
    document.getElementById('main')?.focus({ preventScroll: true });
  }, [pathname]);
  return null;
}

export function AppRoutes() {
  return (
    <Routes>
      <Route path="/" element={<HomePage />} />
      <Route path="/login" element={<LoginPage />} />
      <Route path="/register" element={<RegisterPage />} />
      <Route path="/forgot-password" element={<ForgotPasswordPage />} />
      <Route path="/reset-password" element={<ResetPasswordPage />} />
      <Route path="/account" element={<AccountPage />} />
      <Route path="/settings" element={<SettingsPage />} />
      <Route path="/search-messages" element={<MessageSearchPage />} />
      <Route path="/users/:username" element={<ProfilePage />} />
      <Route path="/novels" element={<NovelsPage />} />
      <Route path="/novels/:idOrSlug" element={<NovelDetailPage />} />
      <Route path="/scenarios" element={<ScenariosPage />} />
      <Route path="/scenarios/new" element={<ScenarioCreatePage />} />
      <Route path="/scenarios/:id" element={<ScenarioDetailPage />} />
      <Route path="/search" element={<ScenarioSearchPage />} />
      <Route
        path="/conversations/:id"
        element={
          <Lazy>
            <ConversationPage />
          </Lazy>
        }
      />
      <Route path="/liked" element={<LikedPage />} />
      <Route path="/staff/ingest" element={<IngestPage />} />
      <Route
        path="/library"
        element={
          <Lazy>
            <LibraryPage />
          </Lazy>
        }
      />
      <Route path="*" element={<NotFoundPage />} />
    </Routes>
  );
}

export function App({ api }: { api: Api }) {
  return (
    <HashRouter>
      <SessionProvider api={api}>
        <PageChange />
        <Layout>
          <AppRoutes />
        </Layout>
      </SessionProvider>
    </HashRouter>
  );
}
