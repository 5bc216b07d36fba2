"""Shared by the attacks that use system calls Python does not wrap (prepended to each that says
`# uses _kernel.py`): the kernel keyring calls, ptrace and process_vm_readv, through libc's syscall()."""

import ctypes
import platform

_libc = ctypes.CDLL(None, use_errno=True)
_NUMBERS = {  # add_key, keyctl, ptrace, process_vm_readv
    "x86_64": (248, 250, 101, 310),
    "aarch64": (217, 219, 117, 270),
}[platform.machine()]
KEY_SPEC_USER_KEYRING, KEY_SPEC_SESSION_KEYRING = -4, -3
KEYCTL_SEARCH, PTRACE_ATTACH, PTRACE_DETACH = 10, 16, 17


def _call(number, *args):
    """The raw result: 0 or more on success, else the errno's name."""
    result = _libc.syscall(number, *args)
    if result == -1:
        import errno
        return errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))
    return result


def add_key(description, payload, keyring=KEY_SPEC_USER_KEYRING):
    data = payload.encode()
    return _call(_NUMBERS[0], b"user", description.encode(), data, len(data), keyring)


def search_key(description, keyring=KEY_SPEC_USER_KEYRING):
    return _call(_NUMBERS[1], KEYCTL_SEARCH, keyring, b"user", description.encode(), 0)


def ptrace_attach(pid):
    result = _call(_NUMBERS[2], PTRACE_ATTACH, pid, 0, 0)
    if result == 0:
        _call(_NUMBERS[2], PTRACE_DETACH, pid, 0, 0)
    return result


def read_memory(pid, address=0x400000, size=16):
    """process_vm_readv of one buffer."""
    class IoVec(ctypes.Structure):
        _fields_ = [("base", ctypes.c_void_p), ("length", ctypes.c_size_t)]

    buffer = ctypes.create_string_buffer(size)
    local, remote = IoVec(ctypes.addressof(buffer), size), IoVec(address, size)
    return _call(_NUMBERS[3], pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
