#!/usr/bin/env python3
"""A webhook receiver for benchmarks: answers every POST with 204 over kept-alive HTTP/1.1
connections and counts them. Prints its port on the first line; writes the count to the file
given as the first argument every 200 ms.

    python3 bench/lib/webhook_sink.py /tmp/count
"""
import asyncio
import sys

count = 0


async def serve(reader, writer):
    global count
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            count += 1
            writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def report(path):
    while True:
        with open(path, "w") as f:
            f.write(f"{count}\n")
        await asyncio.sleep(0.2)


async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", 0, limit=1 << 20)
    print(server.sockets[0].getsockname()[1], flush=True)
    asyncio.get_running_loop().create_task(report(sys.argv[1]))
    async with server:
        await server.serve_forever()


asyncio.run(main())
