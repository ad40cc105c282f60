/* tinygrad-clang's thread pool: runs fn(bufs, start, end) over [0, n) split into chunks on every core.
 * The calling thread works too; workers spin briefly after a job (kernels come in bursts), then sleep.
 * One atomic `ticket` holds (job << 32 | next chunk): a chunk is claimed by compare-and-swap, so a worker still
 * looking at an old job can never take, or run twice, a chunk of the next one. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

typedef void (*tg_kernel)(void **, int, int);

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static int started;  /* workers running */
static atomic_long ticket;
static atomic_int done_chunks;
static tg_kernel job_fn;  /* written only while no chunk of the previous job can still be claimed */
static void **job_bufs;
static int job_n, job_chunks;

static void work(long job) {
  long v = atomic_load(&ticket);
  while ((v >> 32) == job && (int)(v & 0xffffffff) < job_chunks) {
    if (!atomic_compare_exchange_weak(&ticket, &v, v + 1)) continue;
    int c = (int)(v & 0xffffffff);
    int start = (int)((long)job_n * c / job_chunks), end = (int)((long)job_n * (c + 1) / job_chunks);
    if (start < end) job_fn(job_bufs, start, end);
    atomic_fetch_add(&done_chunks, 1);
    v = atomic_load(&ticket);
  }
}

static void *worker(void *arg) {
  long seen = (long)arg;
  for (;;) {
    for (int spin = 0; (atomic_load(&ticket) >> 32) == seen && spin < 20000; spin++)
      if (spin % 64 == 63) sched_yield();
    if ((atomic_load(&ticket) >> 32) == seen) {
      pthread_mutex_lock(&lock);
      while ((atomic_load(&ticket) >> 32) == seen) pthread_cond_wait(&wake, &lock);
      pthread_mutex_unlock(&lock);
    }
    seen = atomic_load(&ticket) >> 32;
    work(seen);
  }
  return 0;
}

static void forget_workers(void) { started = 0; pthread_mutex_init(&lock, 0); pthread_cond_init(&wake, 0); }

/* Run fn over [0, n) in `chunks` pieces on up to `threads` threads (this one included); returns the threads used. */
int tg_pool_run(tg_kernel fn, void **bufs, int n, int chunks, int threads) {
  static int registered;
  if (!registered) registered = !pthread_atfork(0, 0, forget_workers);  /* a forked child has none of our threads */
  long job = (atomic_load(&ticket) >> 32) + 1;
  while (started < threads - 1) {
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 16 << 20);  /* kernels keep staged tiles on the stack */
    int err = pthread_create(&t, &attr, worker, (void *)(job - 1));
    pthread_attr_destroy(&attr);
    if (err) break;
    started++;
  }
  job_fn = fn; job_bufs = bufs; job_n = n; job_chunks = chunks;
  atomic_store(&done_chunks, 0);
  pthread_mutex_lock(&lock);
  atomic_store(&ticket, job << 32);  /* publishes the fields above */
  pthread_cond_broadcast(&wake);
  pthread_mutex_unlock(&lock);
  work(job);
  for (int spin = 0; atomic_load(&done_chunks) < chunks; spin++)
    if (spin % 64 == 63) sched_yield();
  return started + 1;
}
