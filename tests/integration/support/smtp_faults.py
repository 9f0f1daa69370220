"""A real SMTP server (aiosmtpd) that misbehaves on purpose, for Steward's mail tests.

Every message it accepts goes into a Maildir, like the plain server the harness starts. On top of that:

  --tempfail N   answer 451 to the first N tries of each message (told apart by Message-ID)
  --delay S      wait S seconds after a message's data arrives before accepting it (a slow server)
  recipients whose address starts with "reject@" are refused with 550

Run with Debian's interpreter, which has python3-aiosmtpd:
  /usr/bin/python3 smtp_faults.py --port 2525 --maildir /tmp/maildir [--tempfail 2] [--delay 0.2]
"""

import argparse
import asyncio
import mailbox
import re

from aiosmtpd.smtp import SMTP

MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)


class FaultyMailbox:
    def __init__(self, maildir, tempfail, delay):
        self.box = mailbox.Maildir(maildir, create=True)
        self.tempfail = tempfail
        self.delay = delay
        self.tries = {}

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower().startswith("reject@"):
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        content = envelope.original_content or envelope.content
        found = MESSAGE_ID.search(content)
        key = found.group(1) if found else content
        self.tries[key] = self.tries.get(key, 0) + 1
        if self.tries[key] <= self.tempfail:
            return "451 4.3.0 Temporary failure, try again later"
        if self.delay:
            await asyncio.sleep(self.delay)
        self.box.add(content)
        return "250 OK"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--maildir", required=True)
    parser.add_argument("--tempfail", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args()

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    handler = FaultyMailbox(args.maildir, args.tempfail, args.delay)
    server = loop.run_until_complete(
        loop.create_server(lambda: SMTP(handler, enable_SMTPUTF8=True), "127.0.0.1", args.port)
    )
    try:
        loop.run_forever()
    finally:
        server.close()


if __name__ == "__main__":
    main()
