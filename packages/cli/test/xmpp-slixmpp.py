# Two slixmpp clients log in to `morgana xmpp` over STARTTLS (accepting its self-signed
# certificate, whose subject they report), subscribe to each other and chat.
# Prints one JSON object per step; exits non-zero on failure.
import asyncio
import json
import ssl
import sys

import slixmpp

port, host = int(sys.argv[1]), sys.argv[2]


def say(**event):
    print(json.dumps(event), flush=True)


class Client(slixmpp.ClientXMPP):
    def __init__(self, jid, password):
        super().__init__(jid, password)
        # The appliance's certificate is self-signed: accept it, and report what it names.
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        self.ready = asyncio.Event()
        self.inbox = asyncio.Queue()
        self.add_event_handler('session_start', self.start)
        self.add_event_handler('message', lambda m: self.inbox.put_nowait(m) if m['type'] in ('chat', 'normal') else None)
        self.add_event_handler('failed_auth', lambda e: say(event='failed_auth', jid=str(self.boundjid)))

    async def start(self, _event):
        self.send_presence()
        await self.get_roster()
        self.ready.set()


async def main():
    a = Client(f'alice@{host}/slix', 'wonderland')
    b = Client(f'bob@{host}/slix', 'builder')
    for client in (a, b):
        client.connect(('127.0.0.1', port))
    await asyncio.wait_for(asyncio.gather(a.ready.wait(), b.ready.wait()), 15)
    cert = a.socket.getpeercert(binary_form=True)
    say(event='ready', a=str(a.boundjid), b=str(b.boundjid), tls=a.socket.version(), cert_bytes=len(cert or b''))
    a.send_presence_subscription(pto=b.boundjid.bare)
    for _ in range(200):
        if a.client_roster[b.boundjid.bare]['subscription'] == 'both' and b.client_roster[a.boundjid.bare]['subscription'] == 'both':
            break
        await asyncio.sleep(0.05)
    say(event='roster', a=a.client_roster[b.boundjid.bare]['subscription'], b=b.client_roster[a.boundjid.bare]['subscription'])
    a.send_message(mto=b.boundjid.bare, mbody='hello bob', mtype='chat')
    got = await asyncio.wait_for(b.inbox.get(), 10)
    say(event='message', at='b', sender=str(got['from']), body=got['body'])
    b.send_message(mto=got['from'], mbody='hello alice', mtype='chat')
    got = await asyncio.wait_for(a.inbox.get(), 10)
    say(event='message', at='a', sender=str(got['from']), body=got['body'])
    a.disconnect()
    b.disconnect()
    await asyncio.sleep(0.2)
    say(event='done')


asyncio.get_event_loop().run_until_complete(main())
