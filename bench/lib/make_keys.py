#!/usr/bin/env python3
"""API keys for benchmarks, printed one plaintext key a line.

    make_keys.py api <port> <token> <body> <count> <connections>
        creates <count> keys with POST /v1/api-keys (the JSON <body>) over kept-alive
        connections, and prints each created key

    make_keys.py rows <master key, base64> <prefix> <count> <plaintext count> <rows file>
        makes <count> keys as keyflow formats them (<prefix>_, 43 base62 digits of 32 random
        bytes, a 6-digit base62 CRC-32) and hashes them as keyflow does on a database it set
        up itself (BLAKE2b-256 keyed with the pepper derived from the master key, see
        derived_pepper); writes "<display prefix>\\t
        \\\\x<hash>" lines for COPY into api_keys to <rows file> and prints the first
        <plaintext count> keys. Much faster than the API, for tables of a million keys.
"""
import asyncio
import base64
import hashlib
import json
import os
import sys
import zlib

from http1 import post_request, read_answer

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def base62(data: bytes, width: int) -> str:
    number = int.from_bytes(data, "big")
    digits = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        digits.append(BASE62[digit])
    return "".join(reversed(digits))


def make_key(prefix: str) -> str:
    key = f"{prefix}_{base62(os.urandom(32), 43)}"
    return key + base62(zlib.crc32(key.encode()).to_bytes(4, "big"), 6)


def derived_pepper(master_key: bytes) -> bytes:
    """engine/crypto/keyring.cpp's derived_pepper: libsodium's crypto_kdf_derive_from_key
    (subkey 3, context "keyflow1"), which is BLAKE2b keyed with the master key, the subkey id
    as salt and the context as personalisation."""
    salt = (3).to_bytes(8, "little") + bytes(8)
    return hashlib.blake2b(b"", digest_size=32, key=master_key, salt=salt,
                           person=b"keyflow1" + bytes(8)).digest()


def rows(master_key: str, prefix: str, count: int, plaintexts: int, rows_file: str) -> None:
    pepper = derived_pepper(base64.b64decode(master_key))
    with open(rows_file, "w") as out:
        for i in range(count):
            key = make_key(prefix)
            digest = hashlib.blake2b(key.encode(), digest_size=32, key=pepper).hexdigest()
            out.write(f"{key[:len(prefix) + 5]}\t\\\\x{digest}\n")
            if i < plaintexts:
                print(key)


async def create(port: int, token: str, body: bytes, count: int, connections: int) -> None:
    request = post_request("/v1/api-keys", token, body)
    remaining = [count]

    async def client():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while remaining[0] > 0:
            remaining[0] -= 1
            writer.write(request)
            head, answer = await read_answer(reader)
            if not head.startswith(b"HTTP/1.1 201"):
                raise SystemExit(f"create answered {head.split(b' ')[1].decode()}: {answer!r}")
            print(json.loads(answer)["key"])
        writer.close()

    await asyncio.gather(*(client() for _ in range(connections)))


if sys.argv[1] == "api":
    asyncio.run(create(int(sys.argv[2]), sys.argv[3], sys.argv[4].encode(), int(sys.argv[5]),
                       int(sys.argv[6])))
else:
    rows(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6])
