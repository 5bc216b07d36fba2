"""attacks.md #24 - network access: TCP to the host's loopback and outside, UDP, DNS, an abstract unix socket.

PARAMS (prepended by the test): port, a TCP port the host listens on at 127.0.0.1; abstract, the name of an
abstract unix socket the host listens on.
"""

import json
import socket

PARAMS = globals().get("PARAMS", {})
tries = {}


def _attempt(name, family, kind, address, udp=False):
    sock = socket.socket(family, kind)
    sock.settimeout(2)
    try:
        if udp:
            sock.sendto(b"exfiltrate", address)
            tries[name] = "sent"
        else:
            sock.connect(address)
            sock.sendall(b"exfiltrate")
            tries[name] = "connected"
    except OSError as exc:
        tries[name] = f"{type(exc).__name__}: {exc}"
    finally:
        sock.close()


_attempt("loopback", socket.AF_INET, socket.SOCK_STREAM, ("127.0.0.1", PARAMS.get("port", 80)))
_attempt("outside", socket.AF_INET, socket.SOCK_STREAM, ("1.1.1.1", 443))
_attempt("outside-udp", socket.AF_INET, socket.SOCK_DGRAM, ("8.8.8.8", 53), udp=True)
_attempt("outside-ipv6", socket.AF_INET6, socket.SOCK_STREAM, ("2606:4700:4700::1111", 443))
_attempt("abstract", socket.AF_UNIX, socket.SOCK_STREAM, "\0" + PARAMS.get("abstract", "x"))
try:
    tries["dns"] = repr(socket.getaddrinfo("example.com", 443))
except OSError as exc:
    tries["dns"] = f"{type(exc).__name__}: {exc}"
try:
    with open("/proc/net/route") as routes:
        tries["routes"] = len(routes.read().splitlines()) - 1
except OSError as exc:
    tries["routes"] = str(exc)
tries["interfaces"] = [name for _, name in socket.if_nameindex()]
print("NETWORK " + json.dumps(tries))
