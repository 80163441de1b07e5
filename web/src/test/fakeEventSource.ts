/** An EventSource double: tests push events, drops and failures by hand. */

import type { EventSourceLike } from '../lib/stream';

export class FakeEventSource implements EventSourceLike {
  static instances: FakeEventSource[] = [];
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSED = 2;

  readyState = 0;
  closed = false;
  private listeners = new Map<string, Array<(event: Event) => void>>();

  constructor(public readonly url: string) {
    FakeEventSource.instances.push(this);
  }

  static reset(): void {
    FakeEventSource.instances = [];
  }

  static get last(): FakeEventSource {
    return FakeEventSource.instances[FakeEventSource.instances.length - 1];
  }

  addEventListener(type: string, listener: (event: Event) => void): void {
    const list = this.listeners.get(type) ?? [];
    list.push(listener);
    this.listeners.set(type, list);
  }

  removeEventListener(type: string, listener: (event: Event) => void): void {
    this.listeners.set(type, (this.listeners.get(type) ?? []).filter((l) => l !== listener));
  }

  close(): void {
    this.readyState = 2;
    this.closed = true;
  }

  private dispatch(type: string, event: Event): void {
    for (const listener of this.listeners.get(type) ?? []) listener(event);
  }

  open(): void {
    this.readyState = 1;
    this.dispatch('open', new Event('open'));
  }

  /** A server event with JSON data and an SSE id. */
  emit(type: string, data: unknown, id = ''): void {
    if (this.readyState !== 1) this.readyState = 1;
    this.dispatch(type, new MessageEvent(type, { data: JSON.stringify(data), lastEventId: id }));
  }

  chunk(id: string, delta: string, content?: string): void {
    this.emit('message_chunk', content === undefined ? { delta } : { delta, content }, id);
  }

  /** A dropped connection the browser will retry (readyState CONNECTING). */
  drop(): void {
    this.readyState = 0;
    this.dispatch('error', new Event('error'));
  }

  /** A connection the browser gave up on (an HTTP error: readyState CLOSED). */
  fail(): void {
    this.readyState = 2;
    this.dispatch('error', new Event('error'));
  }
}
