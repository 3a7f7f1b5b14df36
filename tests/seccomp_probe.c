/* Seccomp probe for tests/it/security.rs: built static on the host, bind-mounted
 * into a container, it makes the calls whose filtering the built-in profile
 * decides and prints NAME=ERRNO (0 when the call succeeded). x86_64 numbers,
 * so that it needs no kernel headers newer than the host's. */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/syscall.h>

static void probe(const char *name, long nr, long a, long b, long c, long d, long e) {
    long rc = syscall(nr, a, b, c, d, e, 0L);
    printf("%s=%d\n", name, rc < 0 ? errno : 0);
}

int main(void) {
    long me = getpid();
    probe("kcmp", 312, me, me, 0 /* KCMP_FILE */, 0, 0);
    probe("process_madvise", 440, -1, 0, 0, 0, 0);
    probe("ptrace", 101, 12 /* PTRACE_GETREGS */, me, 0, 0, 0);
    probe("process_vm_readv", 310, me, 0, 0, 0, 0);
    probe("membarrier", 324, 0 /* MEMBARRIER_CMD_QUERY */, 0, 0, 0, 0);
    probe("get_mempolicy", 239, 0, 0, 0, 0, 0);
    probe("socket_vsock", 41, 40 /* AF_VSOCK */, 1, 0, 0, 0);
    probe("socket_alg", 41, 38 /* AF_ALG */, 5, 0, 0, 0);
    probe("socket_unix", 41, 1 /* AF_UNIX */, 1, 0, 0, 0);
    probe("move_pages", 279, 0, 0, 0, 0, 0);
    probe("cachestat", 451, -1, 0, 0, 0, 0);
    probe("mseal", 462, 0, 0, 0, 0, 0);
    return 0;
}
