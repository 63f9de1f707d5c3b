// The only C in NEWS: what Swift cannot call directly (futex, memfd, pidfd, affinity, rdtsc,
// PAUSE) and the shared-memory layouts, defined once here and used by every process.
// Every layout is fixed-size and checked with _Static_assert so all sides agree.
#ifndef NEWS_LINUX_H
#define NEWS_LINUX_H

#include <stdint.h>
#include <stddef.h>

// ---- Messages ---------------------------------------------------------------------------
// One fixed-size message slot. Messages carry indices into buffer pools, never pointers.
typedef struct news_msg {
    uint16_t kind;      // NewsIPC.MessageKind
    uint16_t flags;
    uint32_t len;
    uint64_t seq;
    uint64_t arg[6];
} news_msg_t;
_Static_assert(sizeof(news_msg_t) == 64, "message slot is one cache line");

// ---- SPSC ring ----------------------------------------------------------------------------
// head is written only by the producer, tail only by the consumer, each on its own cache
// line; both are free-running 64-bit counters (slot = index & (capacity - 1)). The third
// line is written once by newsd when it creates the region; each side also knows the
// capacity from its launch arguments and treats a mismatch as corruption.
#define NEWS_RING_MAGIC 0x4e455753u  /* "NEWS" */
#define NEWS_RING_VERSION 1u
typedef struct news_ring_header {
    uint64_t head;
    uint8_t _pad0[56];
    uint64_t tail;
    uint8_t _pad1[56];
    uint32_t magic;
    uint32_t version;
    uint32_t capacity;
    uint32_t msg_size;
    uint8_t _pad2[48];
} news_ring_header_t;
_Static_assert(sizeof(news_ring_header_t) == 192, "ring header is three cache lines");
_Static_assert(offsetof(news_ring_header_t, tail) == 64, "tail on its own cache line");
_Static_assert(offsetof(news_ring_header_t, magic) == 128, "constants on their own line");

// ---- Doorbell ---------------------------------------------------------------------------
// One per consumer process, mapped by every producer that feeds it. The consumer sets
// `sleeping`, re-checks its rings, then futex-waits on `seq`; a producer bumps `seq` and
// wakes only when `sleeping` is set, so the busy path makes no system call. A consumer that
// must also wait on a device (the NIC driver and its TAP) sleeps in poll(2) instead and sets
// `sleeping` to 2: producers then write its eventfd rather than wake the futex.
typedef struct news_doorbell {
    uint32_t seq;
    uint32_t sleeping;
    uint64_t wakes;     // producer-side count of futex wakes actually issued
    uint8_t _pad[48];
} news_doorbell_t;
_Static_assert(sizeof(news_doorbell_t) == 64, "doorbell is one cache line");

// ---- Server status page -------------------------------------------------------------------
// Shared by newsd and exactly one server. The server writes heartbeat, state and counters;
// newsd writes command and generation. newsd validates everything it reads from here.
#define NEWS_STATUS_MAGIC 0x4e535441u /* "NSTA" */
#define NEWS_MAX_COUNTERS 168
#define NEWS_COUNTER_NAME 40
typedef struct news_counter {
    char name[NEWS_COUNTER_NAME];
    uint64_t value;
} news_counter_t;
_Static_assert(sizeof(news_counter_t) == 48, "counter record");

typedef struct news_status_page {
    uint32_t magic;
    uint32_t state;        // 0 starting, 1 ready, 2 stopping
    uint32_t command;      // fault-injection request from newsd (0 = none)
    uint32_t ncounters;
    uint64_t heartbeat;
    uint64_t generation;   // incarnation number, written by newsd before each start
    uint32_t capture;      // newsd writes 1 while `newsctl capture` runs (nicdriver mirrors frames)
    uint8_t _pad[28];
    news_counter_t counters[NEWS_MAX_COUNTERS];
} news_status_page_t;
_Static_assert(offsetof(news_status_page_t, counters) == 64, "counters start on line 1");
_Static_assert(sizeof(news_status_page_t) <= 8192, "status page fits two pages");

// ---- Exposed socket buffer -------------------------------------------------------------------
// One region per socket, shared by the application (libnews) and the transport server: this
// header (one page), then a channel layout (the app's transmit ring, the stack's receive
// ring, and their data areas). Reads, writes, readiness checks and failing non-blocking calls
// touch only this memory; the app enters the kernel only to sleep on `app_seq`.
#define NEWS_SOCK_MAGIC 0x4e534f4bu /* "NSOK" */
// Everything here is the application's to scribble on: the stack writes the first line as a
// report (its own truth lives in its state region) and never trusts what it reads back.
typedef struct news_sock_header {
    uint32_t magic;
    uint32_t version;
    uint32_t id;            // newsd's socket number
    uint32_t state;         // written by the stack: 1 open, 2 bound, 3 connected, 4 closed
    uint32_t local_addr;    // stack: after bind/connect
    uint32_t remote_addr;   // stack: after connect
    uint16_t local_port;
    uint16_t remote_port;
    uint32_t ctl_done;      // stack: number of the last control request it answered
    int32_t ctl_result;     // stack: 0 or -errno for that request
    int32_t error;          // stack: pending asynchronous error (-errno), 0 if none
    uint8_t _pad0[24];
    // Line 1, shaped like news_doorbell_t: the stack wakes the application here.
    uint32_t app_seq;       // futex word the application sleeps on
    uint32_t app_sleeping;  // the application sets this before sleeping
    uint64_t app_wakes;     // wakes the stack issued
    uint8_t _pad1[48];
    // Line 2, shaped like news_doorbell_t: the application wakes the stack here. The stack
    // sets `stack_sleeping` to 2 before it sleeps in poll(2); the application then writes the
    // socket's own eventfd (its "kick"), which only this socket holds. The stack's doorbell
    // and eventfd never leave the stack.
    uint32_t stack_seq;     // unused by the stack (a futex word for doorbell symmetry)
    uint32_t stack_sleeping;
    uint64_t stack_kicks;   // kicks the application issued
    uint8_t _pad2[48];
} news_sock_header_t;
_Static_assert(sizeof(news_sock_header_t) == 192, "socket header is three cache lines");
_Static_assert(offsetof(news_sock_header_t, app_seq) == 64, "wake word on its own line");
_Static_assert(offsetof(news_sock_header_t, stack_seq) == 128, "kick word on its own line");

// ---- Exposed stream (TCP) socket buffer -------------------------------------------------------
// A TCP socket's region (NewsIPC/StreamRegion.swift has the whole layout): a header page with
// news_sock_header_t at 0, magic NEWS_STREAM_MAGIC (so a UDP region is never taken for one),
// and news_stream_header_t at NEWS_STREAM_HEADER_OFFSET; a small control channel at
// NEWS_STREAM_CTL_OFFSET; the send area at NEWS_STREAM_SEND_OFFSET; the receive area right
// after it. Both areas are byte rings indexed by (stream offset mod size). All indices are
// free-running totals of bytes since the connection began; each is written by one side only.
#define NEWS_STREAM_MAGIC 0x4e535452u /* "NSTR" */
#define NEWS_STREAM_VERSION 1u
#define NEWS_STREAM_HEADER_OFFSET 256
#define NEWS_STREAM_CTL_OFFSET 4096
#define NEWS_STREAM_CTL_CAPACITY 16
#define NEWS_STREAM_CTL_SLOT 256
#define NEWS_STREAM_SEND_OFFSET 16384
#define NEWS_STREAM_MIN_AREA 4096
#define NEWS_STREAM_MAX_AREA (16 * 1024 * 1024)
// app_flags bits
#define NEWS_STREAM_APP_SHUT_WR 1u        // a FIN follows send_tail; send_tail never moves again
#define NEWS_STREAM_APP_WRITER_WAITS 2u   // wake me when send_acked moves
#define NEWS_STREAM_APP_READER_WAITS 4u   // wake me when recv_tail - recv_head >= recv_low_water
#define NEWS_STREAM_APP_RELEASED 8u       // a pooled socket the application closed: the stack finishes it and recycles the region
// stack_flags bits
#define NEWS_STREAM_PEER_FIN 1u           // end of stream after recv_tail
#define NEWS_STREAM_RESET 2u              // connection reset or failed; the sock header's error says why
#define NEWS_STREAM_ESTABLISHED 4u        // the handshake completed (a connect is done)
#define NEWS_STREAM_SEND_CLOSED 8u        // the stack sends nothing more (FIN sent, or failed)
typedef struct news_stream_header {
    // Line 0, written by newsd at creation. Each side checks it against the size it mapped
    // when it attaches and keeps its own copy: nothing later re-reads it.
    uint32_t send_size;     // power of two, NEWS_STREAM_MIN_AREA..NEWS_STREAM_MAX_AREA
    uint32_t recv_size;     // likewise
    uint32_t ctl_capacity;  // NEWS_STREAM_CTL_CAPACITY
    uint32_t ctl_slot;      // NEWS_STREAM_CTL_SLOT
    uint8_t _pad0[48];
    // Line 1, written by the application only.
    uint64_t send_tail;     // bytes appended to the send stream
    uint64_t recv_head;     // bytes consumed from the receive stream
    uint32_t app_flags;     // NEWS_STREAM_APP_*
    uint32_t recv_low_water;// a waiting reader wants this many bytes (SO_RCVLOWAT), >= 1
    uint8_t _pad1[40];
    // Line 2, written by the stack only (a report: its truth is its own copy).
    uint64_t send_acked;    // bytes of the send stream the stack is done with (peer acked)
    uint64_t recv_tail;     // in-order bytes made readable
    uint32_t stack_flags;   // NEWS_STREAM_PEER_FIN ...
    uint32_t tcp_state;     // the connection's state, a number to show
    uint32_t stack_events;  // bumped after every change the application may wait for
    uint8_t _pad2[36];
    // Line 3, written by the stack only: the connection's numbers for TCP_INFO, a report for
    // display. Each word is stored on its own, so a reader may see a mix of two updates;
    // nothing depends on them.
    uint32_t info_rtt_us;       // smoothed round-trip time
    uint32_t info_rttvar_us;    // its variation
    uint32_t info_rto_us;       // the retransmission timeout
    uint32_t info_snd_cwnd;     // congestion window, bytes
    uint32_t info_snd_ssthresh; // slow-start threshold, bytes
    uint32_t info_snd_mss;      // largest segment sent
    uint32_t info_rcv_mss;      // largest segment the peer may send
    uint32_t info_total_retrans;// segments retransmitted over the connection's life
    uint32_t info_unacked;      // segments sent and not yet acknowledged
    uint32_t info_snd_wnd;      // the peer's advertised window, bytes
    uint32_t info_rcv_wnd;      // our advertised window, bytes
    uint8_t _pad3[20];
} news_stream_header_t;
_Static_assert(sizeof(news_stream_header_t) == 256, "stream header is four cache lines");
_Static_assert(offsetof(news_stream_header_t, info_rtt_us) == 192, "the info line follows the stack line");
_Static_assert(offsetof(news_stream_header_t, send_tail) == 64, "application words on their own line");
_Static_assert(offsetof(news_stream_header_t, send_acked) == 128, "stack words on their own line");
_Static_assert(NEWS_STREAM_HEADER_OFFSET >= sizeof(news_sock_header_t), "stream header after the socket header");
_Static_assert(NEWS_STREAM_HEADER_OFFSET + sizeof(news_stream_header_t) <= NEWS_STREAM_CTL_OFFSET, "headers fit the first page");

// ---- Atomics over shared memory -------------------------------------------------------------
static inline uint64_t news_load_acquire_u64(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline uint64_t news_load_relaxed_u64(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
static inline void news_store_release_u64(uint64_t *p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
static inline void news_store_relaxed_u64(uint64_t *p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_RELAXED); }
static inline uint64_t news_fetch_add_u64(uint64_t *p, uint64_t v) { return __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }
static inline uint32_t news_load_acquire_u32(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline void news_store_release_u32(uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
static inline uint32_t news_fetch_add_u32(uint32_t *p, uint32_t v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
static inline uint32_t news_exchange_u32(uint32_t *p, uint32_t v) { return __atomic_exchange_n(p, v, __ATOMIC_ACQ_REL); }
static inline void news_fence_seq_cst(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
static inline void news_cpu_relax(void) { __builtin_ia32_pause(); }
static inline uint64_t news_rdtsc(void) { return __builtin_ia32_rdtsc(); }

// ---- System calls glibc does not wrap (or Swift cannot call) --------------------------------
// All return 0 / a descriptor on success and -errno on failure.
int news_futex_wait(uint32_t *word, uint32_t expected, int64_t timeout_ns);
int news_futex_wake(uint32_t *word, int count);
int news_memfd_create(const char *name);
int news_pidfd_open(int pid);
// Reaps the child behind pidfd. code: CLD_EXITED / CLD_KILLED / CLD_DUMPED; status: exit
// status or signal number.
int news_pidfd_reap(int pidfd, int *code, int *status);
int news_pin_to_cpu(int cpu);
int news_online_cpus(uint64_t *mask);   // sched_getaffinity of the caller, first 64 cpus
// sched_setaffinity(mask, first 64 cpus) for every thread of this process (/proc/self/task):
// sched_setaffinity(0) alone moves only the calling thread. 0 or -errno of the first failure.
int news_set_process_affinity(uint64_t mask);
// ppoll(2) with a timeout in nanoseconds (poll(2) counts whole milliseconds). Returns what
// ppoll returns, -errno on failure.
struct pollfd;
int news_ppoll(struct pollfd *fds, unsigned long nfds, uint64_t timeout_ns);
int news_set_no_new_privs(void);
int news_drop_bounding_set(void);       // bounding + ambient sets; needs CAP_SETPCAP, so call as root
int news_clear_capabilities(void);      // capset(0): effective, permitted, inheritable
int news_signalfd_for(const int *signals, int count);  // blocks them and returns a signalfd
int news_signalfd_next(int fd);          // next signal number from a signalfd, -EAGAIN if none
int news_set_ids(uint32_t uid, uint32_t gid); // setresgid then setresuid (all three ids)
int news_die_with_parent(int expected_parent); // PR_SET_PDEATHSIG(SIGKILL), then checks the parent
int news_accept_unix(int fd);            // accept4(CLOEXEC|NONBLOCK); news_accept is the C API's
int news_peer_credentials(int fd, int32_t *pid, uint32_t *uid, uint32_t *gid);
int news_eventfd(void);                  // non-blocking, close-on-exec, counter 0
// Creates (or attaches to) TAP device `name`, inside the network namespace at `netns_path`
// when that is non-empty (newsd's own namespace is restored before returning). The device
// lives as long as the descriptor: when newsd exits, it is gone.
/* Opens TAP `name` (non-blocking). With `offloads`, frames carry a virtio_net_hdr in front
 * and the device takes and gives checksum-offloaded TSO segments (TUN_F_CSUM | TUN_F_TSO4). */
int news_tap_open(const char *name, const char *netns_path, int offloads);
// Waits on up to 64 shared futex words at once (futex_waitv); 0 on a wake, -ETIMEDOUT,
// -EAGAIN if a word no longer held its expected value.
int news_futex_waitv(uint32_t *const *words, const uint32_t *expected, int count, int64_t timeout_ns);
// Descriptor passing over a unix socket (SCM_RIGHTS). Return bytes sent / received.
int news_send_with_fds(int sock, const void *data, int len, const int *fds, int nfds);
int news_recv_with_fds(int sock, void *data, int len, int *fds, int maxfds, int *nfds);
int news_forbidden_syscall(void);       // tries socket(AF_INET, SOCK_RAW): never allowed
// Memfd seals (F_ADD_SEALS / F_GET_SEALS). news_seal_size adds SHRINK | GROW | SEAL: the
// region can no longer change size, and nobody can add seals (F_SEAL_WRITE) later.
int news_seal_size(int fd);
#define NEWS_F_GET_SEALS 1034            // F_GET_SEALS, for seccomp argument rules (checked in the .c)
int news_get_seals(int fd);              // the seal bits, or -errno (EINVAL: not sealable)
int news_seals_fix_size(int seals);      // 1 if `seals` holds SHRINK, GROW and SEAL
// Supplementary groups of a unix-socket peer (SO_PEERGROUPS); returns how many (at most max).
int news_peer_groups(int fd, uint32_t *gids, int max);
// Fault injection for the seccomp argument filters; each returns 0 or -errno.
int news_signal_other(int pid, int sig); // tgkill(pid, pid, sig), then kill(pid, sig)
int news_map_executable(void);          // mmap of an anonymous page with PROT_EXEC
int news_protect_executable(void);      // mmap read/write, then mprotect to read/execute

#endif
