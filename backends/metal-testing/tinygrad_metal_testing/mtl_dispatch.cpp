// mtl_dispatch.cpp: runs an emulated kernel's grid the way Metal's dispatchThreads does, one threadgroup at a time.
//
// Each lane of a threadgroup is its own fiber (a ucontext with its own stack) when the kernel has a
// threadgroup_barrier: a lane runs until it reaches a barrier, and the group moves on once every lane waits at the
// same barrier. Lanes that diverge (some finished, some waiting; or waiting at different barriers) are reported as
// the error Metal would leave undefined. Kernels without a barrier run their lanes one after another.
//
// Built once per process by emulator.py (cached on disk like the kernels) and loaded with cffi.
#include <stdio.h>
#include <stdlib.h>
#include <ucontext.h>

typedef void (*mtl_barrier_fn)(int line);
typedef void (*mtl_lane_fn)(void **bufs, const long *sizes, const unsigned *ids, mtl_barrier_fn barrier);
typedef void (*mtl_group_fn)(void);  // fills the kernel's threadgroup arrays with garbage before each group

// ids of one lane, in the order the generated glue reads them (emulator.py: ATTRIBUTES)
enum {
  POS_IN_GRID = 0,        // thread_position_in_grid
  GROUP_POS = 3,          // threadgroup_position_in_grid
  POS_IN_GROUP = 6,       // thread_position_in_threadgroup
  GROUP_SIZE = 9,         // threads_per_threadgroup (the actual size of this, possibly partial, group)
  GROUPS = 12,            // threadgroups_per_grid
  GRID = 15,              // threads_per_grid
  INDEX_IN_GROUP = 18,    // thread_index_in_threadgroup
  N_IDS = 19
};

enum { RUNNABLE, AT_BARRIER, DONE };
static const size_t STACK_BYTES = 256 * 1024;

struct Lane {
  ucontext_t context;
  char *stack;
  int state, line;
  unsigned ids[N_IDS];
};

static Lane *lanes;
static int capacity, current;
static ucontext_t scheduler;
static mtl_lane_fn lane_fn;
static void **lane_bufs;
static const long *lane_sizes;

static void wait_at_barrier(int line) {
  Lane *lane = &lanes[current];
  lane->state = AT_BARRIER;
  lane->line = line;
  swapcontext(&lane->context, &scheduler);
}

static void run_lane(void) {  // a fiber's entry; returning resumes the scheduler (uc_link)
  Lane *lane = &lanes[current];
  lane_fn(lane_bufs, lane_sizes, lane->ids, wait_at_barrier);
  lane->state = DONE;
}

static void unexpected_barrier(int line) { (void)line; }

static int reserve(int count) {
  if (count <= capacity) return 1;
  Lane *grown = (Lane *)realloc(lanes, sizeof(Lane) * count);
  if (grown == NULL) return 0;
  lanes = grown;
  for (int i = capacity; i < count; i++) {
    lanes[i].stack = (char *)malloc(STACK_BYTES);
    if (lanes[i].stack == NULL) return 0;
    capacity = i + 1;
  }
  return 1;
}

// Run one threadgroup of `count` lanes whose ids are filled in; 0 on success, else a message in err.
static int run_group(int count, int fibers, char *err, int errlen) {
  if (!fibers) {
    for (int i = 0; i < count; i++) lane_fn(lane_bufs, lane_sizes, lanes[i].ids, unexpected_barrier);
    return 0;
  }
  for (int i = 0; i < count; i++) {
    Lane *lane = &lanes[i];
    getcontext(&lane->context);
    lane->context.uc_stack.ss_sp = lane->stack;
    lane->context.uc_stack.ss_size = STACK_BYTES;
    lane->context.uc_link = &scheduler;
    lane->state = RUNNABLE;
    makecontext(&lane->context, run_lane, 0);
  }
  for (;;) {
    for (int i = 0; i < count; i++) {
      if (lanes[i].state != RUNNABLE) continue;
      current = i;
      swapcontext(&scheduler, &lanes[i].context);
    }
    int waiting = 0, first = -1;
    for (int i = 0; i < count; i++) {
      if (lanes[i].state != AT_BARRIER) continue;
      waiting++;
      if (first < 0) first = i;
    }
    if (waiting == 0) return 0;
    if (waiting != count) {
      snprintf(err, errlen, "barrier divergence: %d of %d lanes wait at the threadgroup_barrier on line %d, the others "
               "have returned", waiting, count, lanes[first].line);
      return 1;
    }
    for (int i = 0; i < count; i++) {
      if (lanes[i].line != lanes[first].line) {
        snprintf(err, errlen, "barrier divergence: lane %d waits at the threadgroup_barrier on line %d, lane %d at "
                 "line %d", first, lanes[first].line, i, lanes[i].line);
        return 1;
      }
      lanes[i].state = RUNNABLE;
    }
  }
}

// dispatchThreads(threads, group): ceil(threads / group) threadgroups per dim, the last ones partial.
extern "C" int mtl_dispatch(mtl_lane_fn fn, mtl_group_fn group_start, void **bufs, const long *sizes,
                            const unsigned *threads, const unsigned *group, int fibers, char *err, int errlen) {
  unsigned groups[3];
  for (int d = 0; d < 3; d++) {
    if (group[d] == 0) {
      snprintf(err, errlen, "a threadgroup size of 0 in dimension %d", d);
      return 1;
    }
    groups[d] = (threads[d] + group[d] - 1) / group[d];
  }
  if (!reserve((int)(group[0] * group[1] * group[2]))) {
    snprintf(err, errlen, "out of memory for %u lanes", group[0] * group[1] * group[2]);
    return 1;
  }
  lane_fn = fn;
  lane_bufs = bufs;
  lane_sizes = sizes;
  for (unsigned gz = 0; gz < groups[2]; gz++)
    for (unsigned gy = 0; gy < groups[1]; gy++)
      for (unsigned gx = 0; gx < groups[0]; gx++) {
        unsigned g[3] = {gx, gy, gz}, size[3];
        for (int d = 0; d < 3; d++) {
          unsigned left = threads[d] - g[d] * group[d];
          size[d] = left < group[d] ? left : group[d];
        }
        int count = 0;
        for (unsigned z = 0; z < size[2]; z++)
          for (unsigned y = 0; y < size[1]; y++)
            for (unsigned x = 0; x < size[0]; x++, count++) {
              unsigned *ids = lanes[count].ids, local[3] = {x, y, z};
              for (int d = 0; d < 3; d++) {
                ids[POS_IN_GRID + d] = g[d] * group[d] + local[d];
                ids[GROUP_POS + d] = g[d];
                ids[POS_IN_GROUP + d] = local[d];
                ids[GROUP_SIZE + d] = size[d];
                ids[GROUPS + d] = groups[d];
                ids[GRID + d] = threads[d];
              }
              ids[INDEX_IN_GROUP] = (unsigned)count;
            }
        group_start();
        if (run_group(count, fibers, err, errlen)) return 1;
      }
  return 0;
}
