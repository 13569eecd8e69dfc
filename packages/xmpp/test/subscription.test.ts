// Model-based test of the presence subscription state machine (RFC 6121 §3, Appendix A):
// random sequences of subscribe/subscribed/unsubscribe/unsubscribed between two local accounts,
// after each of which both rosters must match a small model.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { type RosterItem, type XmppClient, connectXmpp, createMemoryStore, createXmppServer } from '../src/index.js';
import { LOOPBACK, clock, loopbackStack, nodeCrypto, random } from './helpers.js';

const DOMAIN = 'example.test';
const USERS = ['carol', 'dave'] as const;
type User = (typeof USERS)[number];
type Action = { readonly actor: User; readonly type: 'subscribe' | 'subscribed' | 'unsubscribe' | 'unsubscribed' };

const stack = loopbackStack();
afterAll(() => stack.close());

/** Per direction A→B: A is subscribed to B's presence; A's request is pending; A's item for B is on A's roster. */
interface Model {
  sub: Record<User, boolean>;
  pending: Record<User, boolean>;
  visible: Record<User, boolean>;
}

const other = (user: User): User => (user === 'carol' ? 'dave' : 'carol');

function apply(model: Model, { actor, type }: Action): void {
  const peer = other(actor);
  if (type === 'subscribe') {
    model.visible[actor] = true;
    if (!model.sub[actor]) model.pending[actor] = true;
  } else if (type === 'subscribed') {
    // Approving only means something when the peer asked (RFC 6121 §3.1.4).
    if (model.pending[peer]) {
      model.sub[peer] = true;
      model.pending[peer] = false;
      model.visible[actor] = true;
    }
  } else if (type === 'unsubscribe') {
    model.sub[actor] = false;
    model.pending[actor] = false;
  } else {
    model.sub[peer] = false;
    model.pending[peer] = false;
  }
}

function expected(model: Model, user: User): Partial<RosterItem>[] {
  if (!model.visible[user]) return [];
  const to = model.sub[user];
  const from = model.sub[other(user)];
  return [{ jid: `${other(user)}@${DOMAIN}`, subscription: to && from ? 'both' : to ? 'to' : from ? 'from' : 'none', ask: model.pending[user] ? true : undefined }];
}

function summary(items: RosterItem[]): Partial<RosterItem>[] {
  return items.map((i) => ({ jid: i.jid, subscription: i.subscription, ask: i.ask }));
}

describe('presence subscriptions (RFC 6121 §3)', () => {
  it('both rosters follow the subscription model after any sequence of requests and answers', async () => {
    const store = createMemoryStore(nodeCrypto, random);
    for (const user of USERS) await store.addUser(user, user);
    let round = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ actor: fc.constantFrom(...USERS), type: fc.constantFrom('subscribe' as const, 'subscribed' as const, 'unsubscribe' as const, 'unsubscribed' as const) }), { minLength: 1, maxLength: 8 }), async (actions) => {
        // A fresh domain per run, so rosters start empty while users are reused.
        const domainStore = { ...store, roster: async (local: string) => (await store.roster(`${round}:${local}`)), putRosterItem: (local: string, item: Parameters<typeof store.putRosterItem>[1]) => store.putRosterItem(`${round}:${local}`, item), removeRosterItem: (local: string, jid: string) => store.removeRosterItem(`${round}:${local}`, jid) };
        round++;
        const server = createXmppServer({ clock, random, crypto: nodeCrypto, store: domainStore }, { domain: DOMAIN });
        const listener = stack.tcp.listen(0, { onConnection: (flow) => void server.handle(flow) });
        const clients = {} as Record<User, XmppClient>;
        for (const user of USERS) {
          clients[user] = await connectXmpp(await stack.tcp.connect(LOOPBACK, listener.port), { jid: `${user}@${DOMAIN}`, password: user, clock, random, crypto: nodeCrypto, keepaliveInterval: 0 });
          await clients[user].getRoster();
          await clients[user].sendPresence();
        }
        const model: Model = { sub: { carol: false, dave: false }, pending: { carol: false, dave: false }, visible: { carol: false, dave: false } };
        try {
          for (const action of actions) {
            await clients[action.actor].sendPresence({ to: `${other(action.actor)}@${DOMAIN}`, type: action.type });
            apply(model, action);
            // The actor's next iq is processed after its presence: the change is complete.
            const actorRoster = await clients[action.actor].getRoster();
            const peerRoster = await clients[other(action.actor)].getRoster();
            expect(summary(actorRoster)).toEqual(expected(model, action.actor));
            expect(summary(peerRoster)).toEqual(expected(model, other(action.actor)));
          }
        } finally {
          for (const user of USERS) await clients[user].close();
          listener.close();
        }
      }),
      { numRuns: 12 },
    );
  });
});
