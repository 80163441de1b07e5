import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { ApiClient } from './lib/api';
import { loadConfig } from './lib/config';
import { makeApi } from './lib/endpoints';
import { TokenStore } from './lib/tokens';
import './styles.css';

async function main() {
  const config = await loadConfig();
  const api = makeApi(new ApiClient({ config, tokens: new TokenStore() }));
  createRoot(document.getElementById('root')!).render(
    <StrictMode>
      <App api={api} />
    </StrictMode>,
  );
}

void main();
