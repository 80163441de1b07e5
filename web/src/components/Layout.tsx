import { useEffect, useState, type ReactNode } from 'react';
import { Link, NavLink, useLocation, useNavigate } from 'react-router-dom';
import { useSession } from '../lib/session';
import { NotificationBell } from './NotificationBell';

export function Layout({ children }: { children: ReactNode }) {
  const { user, logout } = useSession();
  const [open, setOpen] = useState(false);
  const location = useLocation();
  const navigate = useNavigate();

  // The phone menu closes on navigation.
  useEffect(() => setOpen(false), [location.pathname]);

  const doLogout = async () => {
    await logout();
    navigate('/login');
  };

  return (
    <>
      <a className="skip-link" href="#main" onClick={(e) => {
        e.preventDefault();
        document.getElementById('main')?.focus();
      }}>
        Skip to content
      </a>
      <header className="site-header">
        <div className="header-inner">
          <Link to="/" className="brand">
            Gaji <span className="brand-sub">what if?</span>
          </Link>
          {/* Keyed by user: signing out (or in as someone else) closes its live stream. */}
          {user && <NotificationBell key={user.id} />}
          <button
            type="button"
            className="menu-toggle secondary"
            aria-expanded={open}
            aria-controls="site-nav"
            onClick={() => setOpen((o) => !o)}
            data-testid="menu-toggle"
          >
            {open ? 'Close menu' : 'Menu'}
          </button>
          <nav id="site-nav" className={`site-nav${open ? ' open' : ''}`} aria-label="Main">
            <ul>
              <li>
                <NavLink to="/novels">Novels</NavLink>
              </li>
              <li>
                <NavLink to="/scenarios" end>
                  Scenarios
                </NavLink>
              </li>
              <li>
                <NavLink to="/search">Search</NavLink>
              </li>
              <li>
                <NavLink to="/scenarios/new">Create</NavLink>
              </li>
              {user && (
                <>
                  <li>
                    <NavLink to="/liked">Liked</NavLink>
                  </li>
                  <li>
                    <NavLink to="/search-messages">My messages</NavLink>
                  </li>
                  <li>
                    <NavLink to="/library" data-testid="nav-library">
                      My library
                    </NavLink>
                  </li>
                </>
              )}
              {user?.isStaff && (
                <li>
                  <NavLink to="/staff/ingest">Ingestion</NavLink>
                </li>
              )}
              {user ? (
                <>
                  <li>
                    <NavLink to={`/users/${encodeURIComponent(user.username)}`} data-testid="nav-profile">
                      @{user.username}
                    </NavLink>
                  </li>
                  <li>
                    <NavLink to="/settings" data-testid="nav-settings">
                      Settings
                    </NavLink>
                  </li>
                  <li>
                    <NavLink to="/account" data-testid="nav-account">
                      Account
                    </NavLink>
                  </li>
                  <li>
                    <button type="button" className="link-button" onClick={doLogout} data-testid="logout-button">
                      Log out
                    </button>
                  </li>
                </>
              ) : (
                <>
                  <li>
                    <NavLink to="/login" state={{ from: `${location.pathname}${location.search}` }}>
                      Log in
                    </NavLink>
                  </li>
                  <li>
                    <NavLink to="/register">Register</NavLink>
                  </li>
                </>
              )}
            </ul>
          </nav>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
      <footer className="site-footer">
        <p>Gaji — interactive what-if fiction on public-domain novels.</p>
      </footer>
    </>
  );
}

/** Pages that need a session show a way in instead. */
export function RequireLogin({ children, what }: { children: ReactNode; what: string }) {
  const { user } = useSession();
  const location = useLocation();
  if (user) return <>{children}</>;
  return (
    <section className="card">
      <h1>Log in needed</h1>
      <p>
        <Link to="/login" state={{ from: `${location.pathname}${location.search}` }}>
          Log in
        </Link>{' '}
        or <Link to="/register">register</Link> to {what}.
      </p>
    </section>
  );
}
