"""Shared by the channel attacks (prepended to each that says `# uses _channel.py`): find the runner's channel
among the process's open files.

It is the one connected AF_UNIX stream socket; the attacks write on it directly, behind the runner's back.
"""

import os
import socket
import stat
import struct

import msgpack


def _channel():
    for fd in range(3, 1024):
        try:
            if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                continue
        except OSError:
            continue
        sock = socket.socket(fileno=os.dup(fd))
        if sock.family == socket.AF_UNIX and sock.type == socket.SOCK_STREAM:
            return sock
        sock.close()
    raise RuntimeError("no channel found")


def _frame(body):
    return struct.pack(">I", len(body)) + body


def _message(value):
    return _frame(msgpack.packb(value, use_bin_type=True))
