import { useEffect, useState, type ChangeEvent, type FormEvent } from 'react';
import { Link, useParams } from 'react-router-dom';
import { Avatar, Empty, ErrorBanner, FieldError, Loading, Pagination, fieldErrorId } from '../components/common';
import { ConversationList, ScenarioList } from '../components/ScenarioCard';
import { ApiError } from '../lib/api';
import { formatDate, plural } from '../lib/format';
import { useApi, useResource, useSession } from '../lib/session';
import type { PublicProfile } from '../lib/types';

const BIO_MAX = 500;
const AVATAR_MAX_BYTES = 5 * 1024 * 1024;
const AVATAR_TYPES = ['image/jpeg', 'image/png', 'image/gif', 'image/webp'];

type Tab = 'scenarios' | 'conversations' | 'followers' | 'following';

export function ProfilePage() {
  const { username = '' } = useParams();
  const api = useApi();
  const { user } = useSession();
  const profile = useResource((signal) => api.profile(username, signal), [username]);
  const [tab, setTab] = useState<Tab>('scenarios');

  if (profile.loading && !profile.data) return <Loading />;
  if (!profile.data) return <ErrorBanner error={profile.error} onRetry={profile.reload} />;
  const p = profile.data;
  const isSelf = !!user && user.id === p.id;
  const patch = (change: Partial<PublicProfile>) => profile.setData((current) => (current ? { ...current, ...change } : current));

  const tabs: Array<[Tab, string]> = [
    ['scenarios', `What-ifs (${p.scenario_count})`],
    ['conversations', `Conversations (${p.conversation_count})`],
    ['followers', `Followers (${p.follower_count})`],
    ['following', `Following (${p.following_count})`],
  ];

  return (
    <article className="profile" data-testid="profile" data-id={p.id}>
      <header className="page-header profile-header">
        <Avatar url={p.avatar_url} name={p.username} size={96} />
        <div>
          <h1>@{p.username}</h1>
          {p.bio ? <p className="bio">{p.bio}</p> : <p className="muted">No bio yet.</p>}
          <p className="muted small">Joined {formatDate(p.joined_at)}</p>
          {user && !isSelf && (
            <FollowButton
              userId={p.id}
              onChange={(delta) => patch({ follower_count: Math.max(0, p.follower_count + delta) })}
            />
          )}
        </div>
      </header>

      {isSelf && <ProfileEditor profile={p} onSaved={patch} />}

      <div className="tabs" role="group" aria-label="Profile lists">
        {tabs.map(([key, label]) => (
          <button key={key} type="button" className={`tab${tab === key ? ' active' : ''}`} aria-pressed={tab === key} onClick={() => setTab(key)}>
            {label}
          </button>
        ))}
      </div>
      {tab === 'scenarios' && <UserScenarios userId={p.id} />}
      {tab === 'conversations' && <UserConversations userId={p.id} />}
      {(tab === 'followers' || tab === 'following') && <FollowList userId={p.id} which={tab} />}
    </article>
  );
}

function FollowButton({ userId, onChange }: { userId: string; onChange: (delta: number) => void }) {
  const api = useApi();
  const status = useResource((signal) => api.isFollowing(userId, signal), [userId]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const following = !!status.data?.is_following;

  const toggle = async () => {
    setBusy(true);
    setError(null);
    try {
      if (following) await api.unfollow(userId);
      else await api.follow(userId);
      status.setData({ is_following: !following, is_mutual: status.data?.is_mutual ?? false, followed_at: null });
      onChange(following ? -1 : 1);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div>
      <button
        type="button"
        className={following ? 'secondary' : ''}
        aria-pressed={following}
        onClick={toggle}
        disabled={busy || status.loading}
        data-testid="follow-button"
      >
        {following ? 'Following — unfollow' : 'Follow'}
      </button>
      {status.data?.is_mutual && <span className="badge">follows you</span>}
      <ErrorBanner error={error ?? status.error} />
    </div>
  );
}

function ProfileEditor({ profile, onSaved }: { profile: PublicProfile; onSaved: (change: Partial<PublicProfile>) => void }) {
  const api = useApi();
  const [bio, setBio] = useState(profile.bio ?? '');
  const [error, setError] = useState<unknown>(null);
  const [avatarError, setAvatarError] = useState<unknown>(null);
  const [status, setStatus] = useState('');
  const [busy, setBusy] = useState(false);
  useEffect(() => setBio(profile.bio ?? ''), [profile.bio]);
  const details = error instanceof ApiError ? error.details : {};
  const avatarDetails = avatarError instanceof ApiError ? avatarError.details : {};

  const saveBio = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setStatus('');
    try {
      const updated = await api.updateProfile({ bio });
      onSaved({ bio: updated.bio });
      setStatus('Profile saved.');
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const upload = async (event: ChangeEvent<HTMLInputElement>) => {
    const file = event.target.files?.[0];
    event.target.value = '';
    if (!file) return;
    setAvatarError(null);
    setStatus('');
    if (file.size > AVATAR_MAX_BYTES) {
      setAvatarError(new ApiError({ status: 0, code: 'CLIENT_VALIDATION', message: 'The image is larger than 5 MB.', details: { avatar: ['At most 5 MB.'] } }));
      return;
    }
    if (file.type && !AVATAR_TYPES.includes(file.type)) {
      setAvatarError(new ApiError({ status: 0, code: 'CLIENT_VALIDATION', message: 'Use a JPG, PNG, GIF or WEBP image.', details: { avatar: ['JPG, PNG, GIF or WEBP.'] } }));
      return;
    }
    setBusy(true);
    try {
      const result = await api.uploadAvatar(file);
      onSaved({ avatar_url: result.avatar_url });
      setStatus('Avatar updated.');
    } catch (err) {
      setAvatarError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card" aria-labelledby="edit-heading">
      <h2 id="edit-heading">Edit your profile</h2>
      <form onSubmit={saveBio}>
        <div className="field">
          <label htmlFor="bio">Bio</label>
          <textarea
            id="bio"
            rows={3}
            value={bio}
            maxLength={BIO_MAX}
            onChange={(e) => setBio(e.target.value)}
            aria-describedby={details.bio ? fieldErrorId('bio') : undefined}
            data-testid="bio-input"
          />
          <span className="counter">
            {bio.length} / {BIO_MAX}
          </span>
          <FieldError name="bio" messages={details.bio} />
        </div>
        <ErrorBanner error={error} />
        <button type="submit" disabled={busy} data-testid="bio-save">
          Save bio
        </button>
      </form>
      <div className="field">
        <label htmlFor="avatar">Avatar (JPG, PNG, GIF or WEBP, up to 5 MB)</label>
        <input
          id="avatar"
          type="file"
          accept="image/jpeg,image/png,image/gif,image/webp"
          onChange={upload}
          disabled={busy}
          aria-describedby={avatarDetails.avatar ? fieldErrorId('avatar') : undefined}
          data-testid="avatar-input"
        />
        <FieldError name="avatar" messages={avatarDetails.avatar} />
        <ErrorBanner error={avatarError} />
      </div>
      <p role="status" className="small muted">
        {status}
      </p>
    </section>
  );
}

function UserScenarios({ userId }: { userId: string }) {
  const api = useApi();
  const [page, setPage] = useState(0);
  const list = useResource((signal) => api.scenarios({ creator_id: userId, page, size: 10 }, signal), [userId, page]);
  if (list.loading && !list.data) return <Loading />;
  if (!list.data) return <ErrorBanner error={list.error} onRetry={list.reload} />;
  return list.data.content.length === 0 ? (
    <Empty>No what-ifs yet.</Empty>
  ) : (
    <>
      <ScenarioList items={list.data.content} />
      <Pagination page={list.data.page} onChange={setPage} noun="what-if" />
    </>
  );
}

function UserConversations({ userId }: { userId: string }) {
  const api = useApi();
  const [page, setPage] = useState(0);
  const list = useResource((signal) => api.conversations({ user_id: userId, page, size: 10 }, signal), [userId, page]);
  if (list.loading && !list.data) return <Loading />;
  if (!list.data) return <ErrorBanner error={list.error} onRetry={list.reload} />;
  return list.data.content.length === 0 ? (
    <Empty>No conversations yet.</Empty>
  ) : (
    <>
      <ConversationList items={list.data.content} />
      <Pagination page={list.data.page} onChange={setPage} noun="conversation" />
    </>
  );
}

function FollowList({ userId, which }: { userId: string; which: 'followers' | 'following' }) {
  const api = useApi();
  const [page, setPage] = useState(0);
  useEffect(() => setPage(0), [which]);
  const list = useResource(
    (signal) => (which === 'followers' ? api.followers(userId, { page, size: 20 }, signal) : api.following(userId, { page, size: 20 }, signal)),
    [userId, which, page],
  );
  if (list.loading && !list.data) return <Loading />;
  if (!list.data) return <ErrorBanner error={list.error} onRetry={list.reload} />;
  return list.data.content.length === 0 ? (
    <Empty>{which === 'followers' ? 'No followers yet.' : 'Not following anyone yet.'}</Empty>
  ) : (
    <>
      <ul className="people" data-testid={`${which}-list`}>
        {list.data.content.map((person) => (
          <li key={person.id}>
            <Avatar url={person.avatar_url} name={person.username} size={32} />
            <Link to={`/users/${encodeURIComponent(person.username)}`}>@{person.username}</Link>
            {person.is_mutual && <span className="badge">mutual</span>}
            <span className="muted small">since {formatDate(person.followed_at)}</span>
          </li>
        ))}
      </ul>
      <Pagination page={list.data.page} onChange={setPage} noun="person" />
      <p className="muted small">{plural(list.data.page.total_elements, 'person', 'people')}</p>
    </>
  );
}
