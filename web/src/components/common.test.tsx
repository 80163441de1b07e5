import { render, screen } from '@testing-library/react';
import { MemoryRouter } from 'react-router-dom';
import { describe, expect, it, vi } from 'vitest';
import { ApiError, NETWORK_ERROR, NETWORK_MESSAGE } from '../lib/api';
import { ErrorBanner, Pagination } from './common';

describe('<Pagination>', () => {
  it('shows an exact count and stops at the last page', () => {
    render(<Pagination page={{ number: 1, size: 20, total_elements: 40, total_pages: 2 }} onChange={vi.fn()} />);
    expect(screen.getByText(/Page 2 of 2 · 40 results/)).toBeInTheDocument();
    expect(screen.getByRole('button', { name: /Next/ })).toBeDisabled();
    expect(screen.getByRole('button', { name: /Previous/ })).toBeEnabled();
  });

  it('says "about N" and "N+" for an estimated total, and goes on while pages are full', () => {
    const page = { number: 4, size: 20, total_elements: 100, total_pages: 5, total_is_estimate: true };
    const { rerender } = render(<Pagination page={page} itemCount={20} onChange={vi.fn()} />);
    expect(screen.getByText(/Page 5 of 5\+ · about 100 results/)).toBeInTheDocument();
    expect(screen.getByRole('button', { name: /Next/ })).toBeEnabled();
    rerender(<Pagination page={page} itemCount={7} onChange={vi.fn()} />);
    expect(screen.getByRole('button', { name: /Next/ })).toBeDisabled();
  });
});

describe('<ErrorBanner>', () => {
  it('shows the message in plain words with its reference', () => {
    render(
      <MemoryRouter>
        <ErrorBanner error={new ApiError({ status: 429, code: 'RATE_LIMITED', message: 'Too many requests. Retry in 30 s.', traceId: 'abc-123' })} />
      </MemoryRouter>,
    );
    const banner = screen.getByTestId('error-banner');
    expect(banner).toHaveAttribute('role', 'alert');
    expect(banner).toHaveTextContent('Too many requests. Retry in 30 s.');
    expect(banner).toHaveTextContent('Reference: abc-123');
  });

  it('offers a way in on a 401 and says "cannot reach the server" offline', () => {
    const { rerender } = render(
      <MemoryRouter>
        <ErrorBanner error={new ApiError({ status: 401, code: 'NOT_AUTHENTICATED', message: 'Authentication credentials were not provided.' })} />
      </MemoryRouter>,
    );
    expect(screen.getByRole('link', { name: 'Log in' })).toBeInTheDocument();
    rerender(
      <MemoryRouter>
        <ErrorBanner error={new ApiError({ status: 0, code: NETWORK_ERROR, message: NETWORK_MESSAGE })} />
      </MemoryRouter>,
    );
    expect(screen.getByTestId('error-banner')).toHaveTextContent('Cannot reach the server.');
  });
});
