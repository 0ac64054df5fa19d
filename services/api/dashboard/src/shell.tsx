import type { ComponentChildren } from 'preact';
import { Link } from './router';

/** The frame of every page: a skip link, the header, and the main landmark that receives focus. */
export function Shell({ children, onSignOut }: { children: ComponentChildren; onSignOut?: () => void }) {
  return (
    <>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="top-bar">
        <div class="container top-bar-inner">
          {onSignOut ? (
            <Link href="/sites" class="brand">
              Tidemark
            </Link>
          ) : (
            <span class="brand">Tidemark</span>
          )}
          {onSignOut && (
            <nav aria-label="Account">
              <Link href="/sites">Sites</Link>
              <button type="button" class="link-button" onClick={onSignOut}>
                Sign out
              </button>
            </nav>
          )}
        </div>
      </header>
      <main id="main" class="container" tabIndex={-1}>
        {children}
      </main>
    </>
  );
}
