"""The operating system's walls around a sandbox process.

Set by the sandbox process on itself, after its imports and before it
reads any snippet: nothing a snippet does can run before them.

* ``PR_SET_PDEATHSIG``: killed when the server worker (its spawning
  thread) ends, so a gunicorn restart or a killed worker leaves no orphan;
* ``RLIMIT_AS``: the address space, what the process has plus the memory
  budget; ``RLIMIT_CPU``: lowered before each run; ``RLIMIT_NOFILE``: no
  descriptor beyond those open; ``RLIMIT_NPROC`` 0, ``RLIMIT_CORE`` 0,
  ``RLIMIT_FSIZE`` 0;
* Landlock, where the kernel has it: no file may be opened, read,
  written or made, no TCP port bound or connected, no signal sent out of
  the process;
* seccomp, where libseccomp is installed (``pyseccomp``): the system calls
  that make sockets, run programs, make processes, open or make files,
  signal or trace other processes, or change these walls fail with EPERM.
"""
import ctypes
import errno
import os
import resource
import signal

_PR_SET_PDEATHSIG = 1
_PR_SET_NO_NEW_PRIVS = 38
_SYS_LANDLOCK_CREATE_RULESET = 444
_SYS_LANDLOCK_RESTRICT_SELF = 446
_LANDLOCK_CREATE_RULESET_VERSION = 1
# Every file system right of each Landlock ABI (1: 13 rights, 2: REFER,
# 3: TRUNCATE, 5: IOCTL_DEV).
_FS_RIGHTS = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1,
    5: (1 << 16) - 1}
_NET_BIND_CONNECT_TCP = 3
_SCOPE_ABSTRACT_UNIX_SOCKET_AND_SIGNAL = 3

# Denied with EPERM: Python fails cleanly (OSError), the process lives.
DENIED_SYSCALLS = (
    # network
    'socket', 'socketpair', 'connect', 'bind', 'listen', 'accept',
    'accept4', 'sendto', 'sendmsg', 'sendmmsg', 'recvmsg', 'recvmmsg',
    # programs and processes
    'execve', 'execveat', 'fork', 'vfork', 'clone', 'clone3',
    # files: open or make one
    'open', 'openat', 'openat2', 'creat', 'open_by_handle_at',
    'name_to_handle_at', 'mknod', 'mknodat', 'link', 'linkat', 'symlink',
    'symlinkat', 'unlink', 'unlinkat', 'rename', 'renameat', 'renameat2',
    'mkdir', 'mkdirat', 'rmdir', 'truncate', 'chmod', 'fchmodat',
    'fchmodat2', 'chown', 'lchown', 'fchownat', 'memfd_create',
    'memfd_secret', 'inotify_init', 'inotify_init1', 'fanotify_init',
    'userfaultfd', 'io_uring_setup', 'bpf', 'perf_event_open',
    # other processes
    'ptrace', 'process_vm_readv', 'process_vm_writev', 'pidfd_open',
    'pidfd_getfd', 'pidfd_send_signal', 'rt_sigqueueinfo',
    'rt_tgsigqueueinfo', 'kcmp', 'process_madvise',
    # the walls themselves and the system
    'prctl', 'seccomp', 'setrlimit', 'unshare', 'setns', 'mount',
    'umount2', 'chroot', 'pivot_root', 'personality', 'keyctl', 'add_key',
    'request_key', 'landlock_create_ruleset', 'landlock_add_rule',
    'landlock_restrict_self', 'setuid', 'setgid', 'setreuid', 'setregid',
    'setresuid', 'setresgid', 'setgroups',
    )
# Allowed on this process only (kill, tkill, tgkill take a pid first,
# prlimit64 0 for this process).
_SELF_ONLY = ('kill', 'tkill', 'tgkill', 'prlimit64')


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def die_with_parent(parent_pid):
    "SIGKILL when the spawning thread ends; exit if it already has"
    if _libc().prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), 'prctl(PR_SET_PDEATHSIG) failed')
    if os.getppid() != parent_pid:
        os._exit(1)


def set_rlimits(memory, cpu_hard):
    """OS limits; ``memory`` bytes of address space beyond what the
    process holds now (None: none), ``cpu_hard`` seconds of CPU in the
    process's life."""
    enforced = {}
    if memory:
        limit = _address_space() + memory
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        enforced['address_space'] = limit
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_hard, cpu_hard))
    highest = max(int(fd) for fd in os.listdir('/proc/self/fd'))
    resource.setrlimit(resource.RLIMIT_NOFILE, (highest, highest))
    for name in ('RLIMIT_NPROC', 'RLIMIT_CORE', 'RLIMIT_FSIZE',
            'RLIMIT_MEMLOCK', 'RLIMIT_MSGQUEUE'):
        limit = getattr(resource, name, None)
        if limit is not None:
            resource.setrlimit(limit, (0, 0))
    enforced['cpu'] = cpu_hard
    enforced['nofile'] = highest
    # root is not bound by RLIMIT_NPROC: seccomp denies fork then.
    enforced['nproc'] = os.geteuid() != 0
    return enforced


def set_cpu_budget(seconds):
    "Lower the soft CPU limit to what is used plus seconds (a run's)"
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = usage.ru_utime + usage.ru_stime
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = int(used + seconds) + 1
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
    return used


def _address_space():
    with open('/proc/self/status', 'rb') as status:
        for line in status:
            if line.startswith(b'VmSize:'):
                return int(line.split()[1]) * 1024
    return 0


def landlock():
    "Forbid every file, TCP and signal right; the ABI applied or 0"
    libc = _libc()
    syscall = libc.syscall
    syscall.restype = ctypes.c_long
    abi = syscall(_SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0),
        ctypes.c_uint32(_LANDLOCK_CREATE_RULESET_VERSION))
    if abi <= 0:
        return 0
    fs = _FS_RIGHTS[max(v for v in _FS_RIGHTS if v <= abi)]
    fields = [fs]
    if abi >= 4:
        fields.append(_NET_BIND_CONNECT_TCP)
    if abi >= 6:
        fields.append(_SCOPE_ABSTRACT_UNIX_SOCKET_AND_SIGNAL)
    attr = (ctypes.c_uint64 * len(fields))(*fields)
    fd = syscall(_SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr),
        ctypes.c_size_t(ctypes.sizeof(attr)), ctypes.c_uint32(0))
    if fd < 0:
        return 0
    try:
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return 0
        if syscall(_SYS_LANDLOCK_RESTRICT_SELF, ctypes.c_int(fd),
                ctypes.c_uint32(0)) != 0:
            return 0
    finally:
        os.close(fd)
    return abi


_PYSECCOMP = []


def load_seccomp_library():
    "Import pyseccomp while files may be read (it looks for libseccomp)"
    try:
        import pyseccomp
    except (ImportError, RuntimeError, OSError):
        return
    _PYSECCOMP.append(pyseccomp)


def seccomp():
    "Load the filter; False where libseccomp (pyseccomp) is missing"
    if not _PYSECCOMP:
        return False
    pyseccomp = _PYSECCOMP[0]
    denied = pyseccomp.ERRNO(errno.EPERM)
    rules = pyseccomp.SyscallFilter(pyseccomp.ALLOW)
    pid = os.getpid()
    for name in DENIED_SYSCALLS:
        try:
            rules.add_rule(denied, name)
        except (OSError, ValueError, RuntimeError):
            pass  # not a system call of this architecture
    for name in _SELF_ONLY:
        # glibc's setrlimit and getrlimit pass 0 for "this process".
        allowed = 0 if name == 'prlimit64' else pid
        try:
            rules.add_rule(denied, name,
                pyseccomp.Arg(0, pyseccomp.NE, allowed))
        except (OSError, ValueError, RuntimeError):
            pass
    rules.load()
    return True
