import { RedisPubSub } from 'graphql-redis-subscriptions';
import { PubSub, type PubSubEngine } from 'graphql-subscriptions';
import type { Redis } from 'ioredis';

/**
 * Every channel and the payload it carries. Channels are published only after the change commits.
 * The key is a channel family; `topic(family, id)` makes the concrete channel.
 */
export interface ChannelMap {
  /** Every domain event under one threat model (keyed by its id), published after its change commits. */
  'threat_model.events': DomainEventMessage;
  'auth.token_revoked': { jti: string; expiresAt: string };
  /** An administrator set or cleared a user's API rate limits: rate limiters forget what they cached. */
  'quota.user_api_changed': { userId: string };
}

export interface DomainEventMessage {
  id: string;
  /** The event's position in the global order (a bigint, as a string). */
  sequence: string;
  eventType: string;
  threatModelId: string;
  objectType: string;
  objectId: string;
  actorId: string | null;
  occurredAt: string;
  data: unknown;
}

export type Channel = keyof ChannelMap;

export interface PubSubBus {
  publish<C extends Channel>(channel: C, key: string, payload: ChannelMap[C]): Promise<void>;
  subscribe<C extends Channel>(channel: C, key: string): AsyncIterableIterator<ChannelMap[C]>;
  /** Callback form for infrastructure listeners that live as long as the process. */
  listen<C extends Channel>(channel: C, key: string, onMessage: (payload: ChannelMap[C]) => void): Promise<() => void>;
  close(): Promise<void>;
}

class EnginePubSub implements PubSubBus {
  constructor(
    private readonly engine: PubSubEngine,
    private readonly prefix: string,
    private readonly onClose: () => Promise<void>,
  ) {}

  private topic(channel: Channel, key: string): string {
    return `${this.prefix}:${channel}:${key}`;
  }

  publish<C extends Channel>(channel: C, key: string, payload: ChannelMap[C]): Promise<void> {
    return this.engine.publish(this.topic(channel, key), payload);
  }

  subscribe<C extends Channel>(channel: C, key: string): AsyncIterableIterator<ChannelMap[C]> {
    return this.engine.asyncIterableIterator<ChannelMap[C]>(this.topic(channel, key));
  }

  async listen<C extends Channel>(channel: C, key: string, onMessage: (payload: ChannelMap[C]) => void) {
    const id = await this.engine.subscribe(this.topic(channel, key), onMessage, {});
    return () => this.engine.unsubscribe(id);
  }

  close(): Promise<void> {
    return this.onClose();
  }
}

/** Redis fan-out between instances when Redis is configured, in-process otherwise. */
export function createPubSub(options: { prefix: string; redis?: { publisher: Redis; subscriber: Redis } }): PubSubBus {
  if (options.redis) {
    const { publisher, subscriber } = options.redis;
    const engine = new RedisPubSub({ publisher, subscriber });
    return new EnginePubSub(engine, options.prefix, async () => {
      await engine.close();
    });
  }
  return new EnginePubSub(new PubSub(), options.prefix, async () => undefined);
}
