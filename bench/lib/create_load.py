#!/usr/bin/env python3
"""HTTP load for benchmarks: POSTs the same JSON body to one URL from N kept-alive
connections for a number of seconds and prints the successful requests per second.

    python3 bench/lib/create_load.py <port> <path> <token> <body> <connections> <seconds>
"""
import asyncio
import sys
import time

from http1 import post_request, read_answer

port, path, token, body = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4].encode()
connections, seconds = int(sys.argv[5]), float(sys.argv[6])
request = post_request(path, token, body)
done = 0


async def client(deadline):
    global done
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    while time.monotonic() < deadline:
        writer.write(request)
        head, _ = await read_answer(reader)
        if head.startswith(b"HTTP/1.1 201"):
            done += 1
    writer.close()


async def main():
    start = time.monotonic()
    await asyncio.gather(*(client(start + seconds) for _ in range(connections)))
    print(f"{done / (time.monotonic() - start):.0f}")


asyncio.run(main())
