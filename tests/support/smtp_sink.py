#!/usr/bin/env python3
"""A real SMTP server for the integration tests (aiosmtpd on 127.0.0.1).

Usage: smtp_sink.py PORT_FILE MAIL_DIR
Binds a free port, writes it to PORT_FILE, and stores every received message as
MAIL_DIR/<n>.eml (raw RFC 5322 bytes). Runs until killed.
"""
import asyncio
import pathlib
import socket
import sys

from aiosmtpd.controller import Controller


class Store:
    def __init__(self, folder: pathlib.Path):
        self.folder = folder
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        tmp = self.folder / f"{self.count:05d}.eml.tmp"
        tmp.write_bytes(envelope.original_content or envelope.content)
        tmp.rename(self.folder / f"{self.count:05d}.eml")
        return "250 2.0.0 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    port_file, folder = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    controller = Controller(Store(folder), hostname="127.0.0.1", port=port)
    controller.start()
    port_file.write_text(str(port))
    try:
        asyncio.get_event_loop().run_forever()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
