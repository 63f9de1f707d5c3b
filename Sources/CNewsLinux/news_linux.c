#define _GNU_SOURCE
#include "news_linux.h"
#include <dirent.h>
#include <poll.h>
#include <stdlib.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <linux/futex.h>
#include <linux/capability.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static int neg_errno(long r) { return r < 0 ? -errno : (int)r; }

// Shared (not FUTEX_PRIVATE) futexes: the word lives in a mapping shared between processes.
int news_futex_wait(uint32_t *word, uint32_t expected, int64_t timeout_ns) {
    struct timespec ts, *tsp = NULL;
    if (timeout_ns >= 0) {
        ts.tv_sec = timeout_ns / 1000000000LL;
        ts.tv_nsec = timeout_ns % 1000000000LL;
        tsp = &ts;
    }
    return neg_errno(syscall(SYS_futex, word, FUTEX_WAIT, expected, tsp, NULL, 0));
}

int news_futex_wake(uint32_t *word, int count) {
    return neg_errno(syscall(SYS_futex, word, FUTEX_WAKE, count, NULL, NULL, 0));
}

int news_memfd_create(const char *name) {
    return neg_errno(syscall(SYS_memfd_create, name, MFD_CLOEXEC | MFD_ALLOW_SEALING));
}

int news_pidfd_open(int pid) { return neg_errno(syscall(SYS_pidfd_open, pid, 0)); }

int news_pidfd_reap(int pidfd, int *code, int *status) {
    siginfo_t info = {0};
    long r = syscall(SYS_waitid, P_PIDFD, pidfd, &info, WEXITED | WNOHANG, NULL);
    if (r < 0) return -errno;
    if (info.si_pid == 0) return -EAGAIN;
    *code = info.si_code;
    *status = info.si_status;
    return 0;
}

int news_pin_to_cpu(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return neg_errno(sched_setaffinity(0, sizeof set, &set));
}

int news_online_cpus(uint64_t *mask) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) < 0) return -errno;
    *mask = 0;
    for (int i = 0; i < 64; i++)
        if (CPU_ISSET(i, &set)) *mask |= 1ULL << i;
    return 0;
}

int news_ppoll(struct pollfd *fds, unsigned long nfds, uint64_t timeout_ns) {
    struct timespec ts = {.tv_sec = (time_t)(timeout_ns / 1000000000u), .tv_nsec = (long)(timeout_ns % 1000000000u)};
    int r = ppoll(fds, (nfds_t)nfds, &ts, NULL);
    return r < 0 ? -errno : r;
}

int news_set_process_affinity(uint64_t mask) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int i = 0; i < 64; i++)
        if (mask & (1ULL << i)) CPU_SET(i, &set);
    // The calling thread first, so that it is set even if /proc is not mounted.
    if (sched_setaffinity(0, sizeof set, &set) < 0) return -errno;
    DIR *tasks = opendir("/proc/self/task");
    if (!tasks) return 0;
    int result = 0;
    struct dirent *entry;
    while ((entry = readdir(tasks)) != NULL) {
        char *end;
        long tid = strtol(entry->d_name, &end, 10);
        if (entry->d_name[0] == '\0' || *end != '\0' || tid <= 0) continue;  // "." and ".."
        // A thread that exited meanwhile (ESRCH) is no failure.
        if (sched_setaffinity((pid_t)tid, sizeof set, &set) < 0 && errno != ESRCH && result == 0) result = -errno;
    }
    closedir(tasks);
    return result;
}

int news_set_no_new_privs(void) { return neg_errno(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)); }

int news_drop_bounding_set(void) {
    for (int cap = 0; cap <= 63; cap++) {
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) return -errno;
    }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) return -errno;
    return 0;
}

int news_clear_capabilities(void) {
    struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2] = {{0}};
    return neg_errno(syscall(SYS_capset, &hdr, data));
}

int news_signalfd_for(const int *signals, int count) {
    sigset_t set;
    sigemptyset(&set);
    for (int i = 0; i < count; i++) sigaddset(&set, signals[i]);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) return -errno;
    return neg_errno(signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
}

int news_signalfd_next(int fd) {
    struct signalfd_siginfo info;
    ssize_t n = read(fd, &info, sizeof info);
    if (n < 0) return -errno;
    if (n != (ssize_t)sizeof info) return -EIO;
    return (int)info.ssi_signo;
}

int news_set_ids(uint32_t uid, uint32_t gid) {
    if (setresgid(gid, gid, gid) < 0) return -errno;
    if (setresuid(uid, uid, uid) < 0) return -errno;
    return 0;
}

int news_forbidden_syscall(void) { return neg_errno(socket(AF_INET, SOCK_RAW, IPPROTO_RAW)); }

int news_signal_other(int pid, int sig) {
    // syscall() takes longs: widen explicitly, or the upper halves are undefined.
    if (syscall(SYS_tgkill, (long)pid, (long)pid, (long)sig) < 0) return -errno;
    return neg_errno(kill(pid, sig));
}

int news_map_executable(void) {
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return -errno;
    munmap(p, 4096);
    return 0;
}

int news_protect_executable(void) {
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return -errno;
    int r = neg_errno(mprotect(p, 4096, PROT_READ | PROT_EXEC));
    munmap(p, 4096);
    return r;
}

int news_die_with_parent(int expected_parent) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) return -errno;
    // The parent may have died before the prctl took effect.
    if (expected_parent > 0 && getppid() != expected_parent) return -ESRCH;
    return 0;
}

int news_accept_unix(int fd) { return neg_errno(accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)); }

int news_peer_credentials(int fd, int32_t *pid, uint32_t *uid, uint32_t *gid) {
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) return -errno;
    *pid = cred.pid;
    *uid = cred.uid;
    *gid = cred.gid;
    return 0;
}

int news_eventfd(void) { return neg_errno(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)); }

int news_tap_open(const char *name, const char *netns_path, int offloads) {
    int saved = -1, target = -1, fd = -1, err = 0;
    if (netns_path && *netns_path) {
        saved = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        if (saved < 0) return -errno;
        target = open(netns_path, O_RDONLY | O_CLOEXEC);
        if (target < 0 || setns(target, CLONE_NEWNET) < 0) { err = -errno; goto out; }
    }
    fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) { err = -errno; goto out; }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (offloads ? IFF_VNET_HDR : 0);
    strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) { err = -errno; close(fd); fd = -1; goto out; }
    if (offloads) {
        /* Every frame read or written starts with a struct virtio_net_hdr (10 bytes): the
         * kernel may hand us TCP segments up to 64 KB with a partial checksum, and takes
         * such segments from us, cutting them to gso_size itself (TSO at the TAP). */
        int size = (int)sizeof(struct virtio_net_hdr);
        unsigned long features = TUN_F_CSUM | TUN_F_TSO4;
        if (ioctl(fd, TUNSETVNETHDRSZ, &size) < 0 || ioctl(fd, TUNSETOFFLOAD, features) < 0) {
            err = -errno; close(fd); fd = -1;
        }
    }
out:
    if (saved >= 0) {
        if (setns(saved, CLONE_NEWNET) < 0 && err == 0) err = -errno;
        close(saved);
    }
    if (target >= 0) close(target);
    if (err < 0 && fd >= 0) { close(fd); fd = -1; }
    return err < 0 ? err : fd;
}

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif
struct news_futex_waitv_entry { uint64_t val; uint64_t uaddr; uint32_t flags; uint32_t reserved; };

int news_futex_waitv(uint32_t *const *words, const uint32_t *expected, int count, int64_t timeout_ns) {
    if (count <= 0 || count > 64) return -EINVAL;
    struct news_futex_waitv_entry w[64];
    for (int i = 0; i < count; i++) {
        w[i].val = expected[i];
        w[i].uaddr = (uint64_t)(uintptr_t)words[i];
        w[i].flags = 2; /* FUTEX2_SIZE_U32, shared (no FUTEX2_PRIVATE) */
        w[i].reserved = 0;
    }
    struct timespec ts, *tsp = NULL;
    if (timeout_ns >= 0) {   /* futex_waitv takes an absolute CLOCK_MONOTONIC time */
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += timeout_ns / 1000000000LL;
        ts.tv_nsec += timeout_ns % 1000000000LL;
        if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
        tsp = &ts;
    }
    long r = syscall(SYS_futex_waitv, w, count, 0, tsp, CLOCK_MONOTONIC);
    return r < 0 ? -errno : 0;
}

/* newsd's `pool` answer carries a region and a kick for each of up to 32 spares. */
#define NEWS_MAX_PASSED_FDS 64

int news_send_with_fds(int sock, const void *data, int len, const int *fds, int nfds) {
    if (nfds < 0 || nfds > NEWS_MAX_PASSED_FDS) return -EINVAL;
    struct iovec iov = { (void *)data, (size_t)len };
    union { char buf[CMSG_SPACE(NEWS_MAX_PASSED_FDS * sizeof(int))]; struct cmsghdr align; } u;
    struct msghdr msg = {0};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (nfds > 0) {
        memset(&u, 0, sizeof u);
        msg.msg_control = u.buf;
        msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
        memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
    }
    return neg_errno(sendmsg(sock, &msg, MSG_NOSIGNAL));
}

int news_recv_with_fds(int sock, void *data, int len, int *fds, int maxfds, int *nfds) {
    struct iovec iov = { data, (size_t)len };
    union { char buf[CMSG_SPACE(NEWS_MAX_PASSED_FDS * sizeof(int))]; struct cmsghdr align; } u;
    struct msghdr msg = {0};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = u.buf;
    msg.msg_controllen = sizeof u.buf;
    *nfds = 0;
    ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0) return -errno;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        int *in = (int *)CMSG_DATA(c);
        for (int i = 0; i < count; i++) {
            if (*nfds < maxfds) fds[(*nfds)++] = in[i];
            else close(in[i]);  /* more than we asked for: never leak them */
        }
    }
    return (int)n;
}

_Static_assert(NEWS_F_GET_SEALS == F_GET_SEALS, "F_GET_SEALS");

int news_seal_size(int fd) {
    return neg_errno(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL));
}

int news_get_seals(int fd) { return neg_errno(fcntl(fd, F_GET_SEALS)); }

int news_seals_fix_size(int seals) {
    int need = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
    return (seals & need) == need;
}

int news_peer_groups(int fd, uint32_t *gids, int max) {
    socklen_t len = (socklen_t)(sizeof(uint32_t) * (size_t)max);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, gids, &len) < 0) return -errno;
    return (int)(len / sizeof(uint32_t));
}
