"""Reports what the sandbox lets a Python transform see: files, the
environment, clocks, randomness, the network, the hash seed."""
import datetime
import os
import random
import socket
import time
from dataclasses import dataclass

from skewless_guest import transform


@dataclass
class Observed:
    file: str
    env_vars: int
    home: str | None
    time_time: float
    now: str
    utc_now: str
    urandom_hex: str
    random_bits: int
    string_hash: int
    socket: str


def attempt(action) -> str:
    try:
        return f"ok: {action()}"
    except Exception as error:  # what the guest sees is the point
        return f"{type(error).__name__}: {error}"


def connect() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as connection:
        connection.connect(("127.0.0.1", 80))
        return "connected"


@transform(name="py-ambient", version="0.1.0")
def observe(path: str) -> Observed:
    """What the world looks like from inside."""
    return Observed(
        file=attempt(lambda: len(open(path).read())),
        env_vars=len(os.environ),
        home=os.environ.get("HOME"),
        time_time=time.time(),
        now=datetime.datetime.now().isoformat(),
        utc_now=datetime.datetime.now(datetime.timezone.utc).isoformat(),
        urandom_hex=attempt(lambda: os.urandom(8).hex()),
        random_bits=random.getrandbits(62),
        string_hash=hash("skewless"),
        socket=attempt(connect),
    )
