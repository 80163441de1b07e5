/** The scene's cast: who is in it, how talkative each is, and whether a
 * narrator is. The owner edits and saves it; anyone else reads it. */

import { useEffect, useRef, useState, type FormEvent } from 'react';
import { ApiError } from '../lib/api';
import { percent } from '../lib/format';
import { useApi, type Resource } from '../lib/session';
import type { Cast, CastMember, Character, CharacterCardItem } from '../lib/types';
import { ErrorBanner, FieldError, Loading, fieldErrorId } from './common';

export const MAX_CAST_MEMBERS = 8;
const NAME_MAX = 100;

interface DraftMember extends CastMember {
  key: number;
}

const TOP_LEVEL_ERRORS = ['members', 'narrator', 'non_field_errors'];

/** An imported character's id in a cast. */
export const cardCastId = (cardId: string) => `card:${cardId}`;

function memberOrigin(characterId: string | null): string {
  if (!characterId) return 'named freely';
  return characterId.startsWith('card:') ? 'your character' : 'from the novel';
}

/** A character's id in its novel's cast (`vectordb_id` is its older name). */
function characterId(c: Character): string {
  return c.id || c.vectordb_id;
}

export function ScenePanel({
  conversationId,
  cast,
  characters,
  canEdit,
  charactersUnavailable = false,
  cards = [],
}: {
  conversationId: string;
  cast: Resource<Cast>;
  /** The novel's characters (to add one); empty when unknown. */
  characters: Character[];
  canEdit: boolean;
  /** The novel's characters could not be read (only named members can be added). */
  charactersUnavailable?: boolean;
  /** The owner's imported characters (Character Cards), added as `card:<id>`. */
  cards?: CharacterCardItem[];
}) {
  const api = useApi();
  const nextKey = useRef(0);
  const [narrator, setNarrator] = useState(false);
  const [members, setMembers] = useState<DraftMember[]>([]);
  const [pick, setPick] = useState('');
  const [cardPick, setCardPick] = useState('');
  const [freeName, setFreeName] = useState('');
  const [addError, setAddError] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState('');
  const [busy, setBusy] = useState(false);

  // The cast as loaded (or saved) replaces the draft.
  useEffect(() => {
    if (!cast.data) return;
    setNarrator(cast.data.narrator);
    setMembers(cast.data.members.map((m) => ({ ...m, key: nextKey.current++ })));
  }, [cast.data]);

  const details = error instanceof ApiError ? error.details : {};
  const full = members.length >= MAX_CAST_MEMBERS;
  const available = characters.filter((c) => !members.some((m) => m.character_id === characterId(c)));
  const availableCards = cards.filter((c) => !members.some((m) => m.character_id === cardCastId(c.id)));

  const edited = () => {
    setSaved('');
    setError(null);
  };

  const add = (member: CastMember) => {
    if (full) return;
    setMembers((all) => [...all, { ...member, key: nextKey.current++ }]);
    setAddError('');
    edited();
  };

  const addCharacter = () => {
    const character = characters.find((c) => characterId(c) === pick);
    if (!character) return;
    add({ character_id: characterId(character), name: character.name, talkativeness: 0.5 });
    setPick('');
  };

  const addCard = () => {
    const card = cards.find((c) => c.id === cardPick);
    if (!card) return;
    add({ character_id: cardCastId(card.id), name: card.name.slice(0, NAME_MAX), talkativeness: 0.5 });
    setCardPick('');
  };

  const addFree = () => {
    const name = freeName.trim();
    if (!name) {
      setAddError('Enter a name.');
      return;
    }
    if (members.some((m) => m.name.trim().toLowerCase() === name.toLowerCase())) {
      setAddError(`${name} is already in the scene.`);
      return;
    }
    add({ character_id: null, name, talkativeness: 0.5 });
    setFreeName('');
  };

  const remove = (key: number) => {
    setMembers((all) => all.filter((m) => m.key !== key));
    edited();
  };

  const setTalkativeness = (key: number, value: number) => {
    setMembers((all) => all.map((m) => (m.key === key ? { ...m, talkativeness: value } : m)));
    setSaved('');
  };

  const save = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setSaved('');
    try {
      const result = await api.saveCast(conversationId, {
        narrator,
        members: members.map((m) => ({ character_id: m.character_id, name: m.name, talkativeness: m.talkativeness })),
      });
      cast.setData(result);
      setSaved('Scene saved.');
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  /** The errors of member `i`, by field ("members.2.character_id", "members.2"). */
  const memberErrors = (i: number) =>
    Object.entries(details).filter(([key]) => key === `members.${i}` || key.startsWith(`members.${i}.`));

  return (
    <section className="card small-card scene-panel" aria-labelledby="scene-heading" data-testid="scene-panel">
      <h2 id="scene-heading" className="h-small">
        Scene
      </h2>
      {cast.loading && !cast.data && <Loading />}
      <ErrorBanner error={cast.error} onRetry={cast.reload} />
      {cast.data && !canEdit && (
        <>
          {cast.data.members.length === 0 ? (
            <p className="muted small">Nobody is in the scene yet.</p>
          ) : (
            <ul className="scene-members">
              {cast.data.members.map((m, i) => (
                <li key={`${m.character_id ?? m.name}-${i}`} data-testid="scene-member">
                  <span className="scene-name">{m.name}</span>{' '}
                  <span className="muted small">talkativeness {percent(m.talkativeness)}</span>
                </li>
              ))}
            </ul>
          )}
          <p className="small" data-testid="scene-narrator">
            {cast.data.narrator ? 'A narrator describes the scene.' : 'No narrator.'}
          </p>
        </>
      )}
      {cast.data && canEdit && (
        <form onSubmit={save} noValidate>
          {members.length === 0 && <p className="muted small">Nobody is in the scene yet.</p>}
          <ul className="scene-members">
            {members.map((m, i) => {
              const errors = memberErrors(i);
              const inputId = `talk-${m.key}`;
              return (
                <li key={m.key} data-testid="scene-member" className="scene-member">
                  <div className="scene-member-head">
                    <span className="scene-name">{m.name}</span>{' '}
                    <span className="muted small">{memberOrigin(m.character_id)}</span>
                    <button
                      type="button"
                      className="secondary small"
                      onClick={() => remove(m.key)}
                      aria-label={`Remove ${m.name}`}
                      data-testid="scene-remove"
                    >
                      Remove
                    </button>
                  </div>
                  <label htmlFor={inputId} className="small">
                    Talkativeness of {m.name}
                  </label>{' '}
                  <input
                    id={inputId}
                    type="range"
                    min={0}
                    max={1}
                    step={0.05}
                    value={m.talkativeness}
                    onChange={(e) => setTalkativeness(m.key, Number(e.target.value))}
                    aria-valuetext={percent(m.talkativeness)}
                    aria-describedby={errors.length ? errors.map(([key]) => fieldErrorId(key)).join(' ') : undefined}
                    data-testid="scene-talkativeness"
                  />{' '}
                  <span className="small">{percent(m.talkativeness)}</span>
                  {errors.map(([key, messages]) => (
                    <FieldError key={key} name={key} messages={messages} />
                  ))}
                </li>
              );
            })}
          </ul>
          {TOP_LEVEL_ERRORS.map((key) => (
            <FieldError key={key} name={key} messages={details[key]} />
          ))}
          {full ? (
            <p className="help">A scene holds at most {MAX_CAST_MEMBERS} characters.</p>
          ) : (
            <>
              {charactersUnavailable && (
                <p className="help" data-testid="scene-characters-unavailable">
                  The novel’s characters could not be loaded: you can still add someone by name.
                </p>
              )}
              {available.length > 0 && (
                <div className="inline-form scene-add">
                  <div className="field grow">
                    <label htmlFor="scene-character">Add a character of the novel</label>
                    <select id="scene-character" value={pick} onChange={(e) => setPick(e.target.value)} data-testid="scene-character">
                      <option value="">Choose…</option>
                      {available.map((c) => (
                        <option key={characterId(c)} value={characterId(c)}>
                          {c.name}
                        </option>
                      ))}
                    </select>
                  </div>
                  <button type="button" className="secondary small" onClick={addCharacter} disabled={!pick} data-testid="scene-add-character">
                    Add
                  </button>
                </div>
              )}
              {availableCards.length > 0 && (
                <div className="inline-form scene-add">
                  <div className="field grow">
                    <label htmlFor="scene-card">Add one of your characters</label>
                    <select id="scene-card" value={cardPick} onChange={(e) => setCardPick(e.target.value)} data-testid="scene-card">
                      <option value="">Choose…</option>
                      {availableCards.map((c) => (
                        <option key={c.id} value={c.id}>
                          {c.name}
                        </option>
                      ))}
                    </select>
                  </div>
                  <button type="button" className="secondary small" onClick={addCard} disabled={!cardPick} data-testid="scene-add-card">
                    Add
                  </button>
                </div>
              )}
              <div className="inline-form scene-add">
                <div className="field grow">
                  <label htmlFor="scene-free-name">Add someone by name</label>
                  <input
                    id="scene-free-name"
                    type="text"
                    value={freeName}
                    maxLength={NAME_MAX}
                    onChange={(e) => {
                      setFreeName(e.target.value);
                      setAddError('');
                    }}
                    onKeyDown={(e) => {
                      if (e.key === 'Enter') {
                        e.preventDefault();
                        addFree();
                      }
                    }}
                    aria-describedby={addError ? fieldErrorId('scene-free-name') : undefined}
                    data-testid="scene-free-name"
                  />
                </div>
                <button type="button" className="secondary small" onClick={addFree} data-testid="scene-add-free">
                  Add
                </button>
              </div>
              <FieldError name="scene-free-name" messages={addError ? [addError] : undefined} />
            </>
          )}
          <div className="field checkbox">
            <input
              id="scene-narrator"
              type="checkbox"
              checked={narrator}
              onChange={(e) => {
                setNarrator(e.target.checked);
                setSaved('');
              }}
              data-testid="scene-narrator-toggle"
            />
            <label htmlFor="scene-narrator">A narrator describes the scene</label>
          </div>
          <ErrorBanner error={error} />
          <div className="actions">
            <button type="submit" disabled={busy} data-testid="scene-save">
              {busy ? 'Saving…' : 'Save the scene'}
            </button>
          </div>
          <p role="status" className="small muted">
            {saved}
          </p>
        </form>
      )}
    </section>
  );
}
