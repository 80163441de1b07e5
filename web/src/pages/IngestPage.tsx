/** Staff: upload a novel for ingestion and watch the jobs progress. */

import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { Link } from 'react-router-dom';
import { Empty, ErrorBanner, FieldError, Loading, fieldErrorId } from '../components/common';
import { RequireLogin } from '../components/Layout';
import { ApiError } from '../lib/api';
import { formatDateTime } from '../lib/format';
import { BASE_STORY_PATTERN } from '../lib/scenarioSchema';
import { useApi, useSession } from '../lib/session';
import type { IngestJob } from '../lib/types';

const SESSION_JOBS = 'gaji.ingest.jobs';
const MAX_UPLOAD_BYTES = 20 * 1024 * 1024;
const POLL_MS = 1000;

function sessionJobIds(): string[] {
  try {
    const value: unknown = JSON.parse(sessionStorage.getItem(SESSION_JOBS) ?? '[]');
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  } catch {
    return [];
  }
}

function rememberJob(jobId: string): void {
  try {
    const ids = [jobId, ...sessionJobIds().filter((id) => id !== jobId)].slice(0, 50);
    sessionStorage.setItem(SESSION_JOBS, JSON.stringify(ids));
  } catch {
    /* memory only */
  }
}

const active = (job: IngestJob) => job.status === 'queued' || job.status === 'processing';

export function IngestPage() {
  const { user } = useSession();
  return (
    <RequireLogin what="manage ingestion">
      {user?.isStaff ? (
        <Ingest />
      ) : (
        <section className="card">
          <h1>Staff only</h1>
          <p>Ingesting novels is for staff accounts.</p>
        </section>
      )}
    </RequireLogin>
  );
}

function Ingest() {
  const api = useApi();
  const [jobs, setJobs] = useState<Record<string, IngestJob>>({});
  const [listError, setListError] = useState<unknown>(null);
  const [serverList, setServerList] = useState<'loading' | 'yes' | 'no'>('loading');
  const jobsRef = useRef(jobs);
  jobsRef.current = jobs;

  const merge = useCallback((list: IngestJob[]) => {
    setJobs((all) => {
      const next = { ...all };
      for (const job of list) next[job.job_id] = job;
      return next;
    });
  }, []);

  // The server's job list when it has one (404: this session's jobs only).
  const loadList = useCallback(async () => {
    try {
      const page = await api.ingestJobs({ page: 0, size: 50 });
      merge(page.content);
      setServerList('yes');
      setListError(null);
    } catch (err) {
      if (err instanceof ApiError && (err.status === 404 || err.status === 405)) setServerList('no');
      else setListError(err);
    }
  }, [api, merge]);

  useEffect(() => {
    void loadList();
    for (const id of sessionJobIds()) {
      api.ingestStatus(id).then(
        (job) => merge([job]),
        () => undefined,
      );
    }
  }, [api, loadList, merge]);

  // Poll every running job once a second (one request per job at a time).
  useEffect(() => {
    const inFlight = new Set<string>();
    const timer = setInterval(() => {
      for (const job of Object.values(jobsRef.current)) {
        if (!active(job) || inFlight.has(job.job_id)) continue;
        inFlight.add(job.job_id);
        api
          .ingestStatus(job.job_id)
          .then(
            (fresh) => merge([fresh]),
            () => undefined,
          )
          .finally(() => inFlight.delete(job.job_id));
      }
    }, POLL_MS);
    return () => clearInterval(timer);
  }, [api, merge]);

  const sorted = Object.values(jobs).sort((a, b) => String(b.created_at ?? '').localeCompare(String(a.created_at ?? '')));

  return (
    <section>
      <h1>Novel ingestion</h1>
      <UploadForm
        onQueued={(job) => {
          rememberJob(job.job_id);
          merge([job]);
        }}
      />
      <section aria-labelledby="jobs-heading">
        <h2 id="jobs-heading">Jobs</h2>
        {serverList === 'no' && <p className="muted small">Showing the jobs started in this browser session.</p>}
        <ErrorBanner error={listError} onRetry={loadList} />
        {serverList === 'loading' && sorted.length === 0 && <Loading />}
        {serverList !== 'loading' && sorted.length === 0 && <Empty>No ingestion jobs yet.</Empty>}
        <ul className="card-list" aria-live="polite">
          {sorted.map((job) => (
            <JobCard key={job.job_id} job={job} />
          ))}
        </ul>
      </section>
    </section>
  );
}

function JobCard({ job }: { job: IngestJob }) {
  const { passages_processed: done, passages_total: total, characters_extracted: characters } = job.progress;
  return (
    <li className={`card job status-${job.status}`} data-testid="ingest-job" data-status={job.status} data-id={job.job_id}>
      <h3>{job.title || 'Untitled novel'}</h3>
      <p className="small">
        <span className={`badge status-${job.status}`}>{job.status}</span> · job {job.job_id}
        {job.created_at && <> · started {formatDateTime(String(job.created_at))}</>}
      </p>
      <label className="small" htmlFor={`progress-${job.job_id}`}>
        {done.toLocaleString()} / {total ? total.toLocaleString() : '?'} passages · {characters} characters
      </label>
      <progress id={`progress-${job.job_id}`} max={total || 1} value={job.status === 'completed' ? total || 1 : done} />
      {job.error && (
        <p className="stream-error small" role="alert">
          {job.error}
        </p>
      )}
      {job.novel_id && job.status === 'completed' && (
        <p className="small">
          <Link to={`/novels/${job.novel_id}`}>Open the novel</Link>
        </p>
      )}
    </li>
  );
}

const METADATA_FIELDS: Array<{ name: string; label: string; max: number; type?: string }> = [
  { name: 'title', label: 'Title', max: 300 },
  { name: 'author', label: 'Author', max: 200 },
  { name: 'slug', label: 'Slug', max: 100 },
  { name: 'publication_year', label: 'Publication year', max: 5, type: 'number' },
  { name: 'genre', label: 'Genre', max: 100 },
  { name: 'language', label: 'Language', max: 20 },
];

function UploadForm({ onQueued }: { onQueued: (job: IngestJob) => void }) {
  const api = useApi();
  const [file, setFile] = useState<File | null>(null);
  const [meta, setMeta] = useState<Record<string, string>>({});
  const [errors, setErrors] = useState<Record<string, string[]>>({});
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState('');

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const found: Record<string, string[]> = {};
    if (!file) found.file = ['Choose a .txt or .md file.'];
    else if (!/\.(txt|md)$/i.test(file.name)) found.file = ['Only .txt and .md files can be ingested.'];
    else if (file.size > MAX_UPLOAD_BYTES) found.file = ['The file is larger than 20 MB.'];
    const slug = meta.slug?.trim();
    if (slug && !BASE_STORY_PATTERN.test(slug)) found['metadata.slug'] = ['Use lowercase letters, digits, - or _.'];
    const year = meta.publication_year?.trim();
    if (year && !/^-?\d{1,4}$/.test(year)) found['metadata.publication_year'] = ['A year such as 1813.'];
    setErrors(found);
    setError(null);
    setMessage('');
    if (Object.keys(found).length || !file) return;
    const metadata: Record<string, unknown> = {};
    for (const field of METADATA_FIELDS) {
      const value = meta[field.name]?.trim();
      if (value) metadata[field.name] = field.type === 'number' ? Number(value) : value;
    }
    setBusy(true);
    try {
      const accepted = await api.ingestNovel(file, metadata);
      setMessage(`${accepted.message} Estimated ${accepted.estimated_duration_minutes.toFixed(1)} min.`);
      onQueued({
        job_id: accepted.job_id,
        status: accepted.status,
        novel_id: null,
        title: (metadata.title as string | undefined) ?? file.name,
        progress: {
          passages_processed: 0,
          passages_total: 0,
          windows_processed: 0,
          windows_total: 0,
          characters_extracted: 0,
          locations_extracted: 0,
          events_extracted: 0,
        },
        error: null,
        attempts: 0,
        created_at: new Date().toISOString(),
        updated_at: new Date().toISOString(),
        completed_at: null,
      });
      setFile(null);
      setMeta({});
      (event.target as HTMLFormElement).reset();
    } catch (err) {
      if (err instanceof ApiError) setErrors(err.details);
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="card" onSubmit={submit} noValidate>
      <h2>Ingest a novel</h2>
      <div className="field">
        <label htmlFor="ingest-file">Text file (.txt or .md, up to 20 MB)</label>
        <input
          id="ingest-file"
          type="file"
          accept=".txt,.md,text/plain,text/markdown"
          onChange={(e) => setFile(e.target.files?.[0] ?? null)}
          aria-describedby={errors.file ? fieldErrorId('file') : undefined}
          data-testid="ingest-file"
        />
        <FieldError name="file" messages={errors.file} />
      </div>
      <div className="grid-2">
        {METADATA_FIELDS.map((field) => {
          const key = `metadata.${field.name}`;
          return (
            <div className="field" key={field.name}>
              <label htmlFor={`meta-${field.name}`}>
                {field.label} <span className="optional">(optional)</span>
              </label>
              <input
                id={`meta-${field.name}`}
                type={field.type ?? 'text'}
                value={meta[field.name] ?? ''}
                maxLength={field.max}
                onChange={(e) => setMeta((m) => ({ ...m, [field.name]: e.target.value }))}
                aria-describedby={errors[key] ? fieldErrorId(key) : undefined}
              />
              <FieldError name={key} messages={errors[key]} />
            </div>
          );
        })}
      </div>
      <FieldError name="metadata" messages={errors.metadata} />
      <ErrorBanner error={error} />
      <button type="submit" disabled={busy} data-testid="ingest-submit">
        {busy ? 'Uploading…' : 'Start ingestion'}
      </button>
      <p role="status" className="small">
        {message}
      </p>
    </form>
  );
}
