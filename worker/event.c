/*
 * event.c: epoll and a timer heap.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>

#include "core.h"
#include "log.h"
#include "event.h"

#define EV_BATCH 256

/* Tasks run per turn at most, before epoll is asked again. */
#define EV_TASK_BUDGET 512

static int epfd = -1;
static uint64_t now_ms, now_us;
static uint64_t busy_poll_ns;

/* Timer heap: heap[1..count], heap[0] unused so a zero heap_index means
 * "not armed". */
static struct ev_timer **heap;
static unsigned heap_count, heap_cap;

/* The run queue: a ring through a sentinel, so a task unlinks itself in
 * O(1) wherever it is. */
static struct ev_task run_queue = { &run_queue, &run_queue, NULL };

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

static void clock_update(void)
{
	now_us = mono_ns() / 1000;
	now_ms = now_us / 1000;
}

uint64_t ev_now(void)
{
	return now_ms;
}

uint64_t ev_now_us(void)
{
	return now_us;
}

void ev_set_busy_poll(unsigned usec)
{
	busy_poll_ns = (uint64_t)usec * 1000;
}

int ev_init(void)
{
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		return -1;
	heap_cap = 1024;
	heap = calloc(heap_cap, sizeof(*heap));
	if (heap == NULL)
		return -1;
	clock_update();
	return 0;
}

#define EV_IN  (EPOLLIN | EPOLLRDHUP | EPOLLET)
#define EV_OUT (EV_IN | EPOLLOUT)

int ev_add(struct ev_io *io, bool want_out)
{
	struct epoll_event ee = {
		.events = want_out ? EV_OUT : EV_IN,
		.data.ptr = io,
	};

	io->out_armed = want_out;
	return epoll_ctl(epfd, EPOLL_CTL_ADD, io->fd, &ee);
}

void ev_want_write(struct ev_io *io)
{
	struct epoll_event ee = { .events = EV_OUT, .data.ptr = io };

	if (io->out_armed)
		return;
	/* EPOLL_CTL_MOD re-checks readiness: if the socket became writable
	 * since the write that blocked, the event is queued at once. */
	if (epoll_ctl(epfd, EPOLL_CTL_MOD, io->fd, &ee) < 0) {
		log_errno(LL_ALERT, errno, "epoll_ctl(MOD, %d) failed", io->fd);
		return;
	}
	io->out_armed = 1;
}

int ev_add_listener(struct ev_io *io, bool exclusive)
{
	struct epoll_event ee = {
		.events = EPOLLIN | (exclusive ? EPOLLEXCLUSIVE : 0),
		.data.ptr = io,
	};

	return epoll_ctl(epfd, EPOLL_CTL_ADD, io->fd, &ee);
}

void ev_del(struct ev_io *io)
{
	/* Closing the fd removes it too; this is for fds that stay open. */
	if (epoll_ctl(epfd, EPOLL_CTL_DEL, io->fd, NULL) < 0 && errno != ENOENT)
		log_errno(LL_ALERT, errno, "epoll_ctl(DEL, %d) failed", io->fd);
}

static void heap_swap(unsigned a, unsigned b)
{
	struct ev_timer *t = heap[a];

	heap[a] = heap[b];
	heap[b] = t;
	heap[a]->heap_index = a;
	heap[b]->heap_index = b;
}

static void heap_up(unsigned i)
{
	while (i > 1 && heap[i / 2]->when > heap[i]->when) {
		heap_swap(i, i / 2);
		i /= 2;
	}
}

static void heap_down(unsigned i)
{
	for (;;) {
		unsigned l = 2 * i, r = l + 1, m = i;

		if (l <= heap_count && heap[l]->when < heap[m]->when)
			m = l;
		if (r <= heap_count && heap[r]->when < heap[m]->when)
			m = r;
		if (m == i)
			return;
		heap_swap(i, m);
		i = m;
	}
}

void ev_timer_del(struct ev_timer *t)
{
	unsigned i = t->heap_index;

	if (i == 0)
		return;
	t->heap_index = 0;
	if (i != heap_count) {
		heap[i] = heap[heap_count];
		heap[i]->heap_index = i;
		heap_count--;
		heap_up(i);
		heap_down(heap[i]->heap_index);
	} else {
		heap_count--;
	}
}

void ev_timer_set(struct ev_timer *t, uint64_t ms)
{
	uint64_t when = now_ms + ms;

	if (t->heap_index) {
		uint64_t old = t->when;

		t->when = when;
		if (when < old)
			heap_up(t->heap_index);
		else if (when > old)
			heap_down(t->heap_index);
		return;
	}
	if (heap_count + 1 >= heap_cap) {
		struct ev_timer **h = realloc(heap, 2 * heap_cap * sizeof(*heap));

		if (h == NULL)
			fatal("out of memory growing the timer heap to %u", 2 * heap_cap);
		heap = h;
		heap_cap *= 2;
	}
	t->when = when;
	heap[++heap_count] = t;
	t->heap_index = heap_count;
	heap_up(heap_count);
}

void ev_post(struct ev_task *t)
{
	if (t->next != NULL)
		return;
	t->prev = run_queue.prev;
	t->next = &run_queue;
	run_queue.prev->next = t;
	run_queue.prev = t;
}

void ev_cancel(struct ev_task *t)
{
	if (t->next == NULL)
		return;
	t->prev->next = t->next;
	t->next->prev = t->prev;
	t->prev = t->next = NULL;
}

static void run_tasks(void)
{
	unsigned budget = EV_TASK_BUDGET;

	while (run_queue.next != &run_queue && budget-- > 0) {
		struct ev_task *t = run_queue.next;

		ev_cancel(t);
		t->cb(t);
	}
}

void ev_run_queued(void)
{
	unsigned turns;

	for (turns = 0; turns < 64 && run_queue.next != &run_queue; turns++)
		run_tasks();
}

static int next_timeout(void)
{
	if (run_queue.next != &run_queue)
		return 0;
	if (heap_count == 0)
		return -1;
	if (heap[1]->when <= now_ms)
		return 0;
	return (int)MIN(heap[1]->when - now_ms, 60000);
}

static void run_timers(void)
{
	while (heap_count > 0 && heap[1]->when <= now_ms) {
		struct ev_timer *t = heap[1];

		ev_timer_del(t);
		t->cb(t);
	}
}

/* Events ready within busy_poll_ns (or before the next timer is due),
 * asked for without sleeping; 0 when none came or busy polling is off. */
static int busy_poll(struct epoll_event *events)
{
	int timeout = next_timeout();
	uint64_t until;
	int n;

	if (busy_poll_ns == 0 || timeout == 0)
		return 0;
	until = mono_ns() + (timeout < 0 ? busy_poll_ns
			     : MIN(busy_poll_ns, (uint64_t)timeout * 1000000));
	do {
		n = epoll_wait(epfd, events, EV_BATCH, 0);
		if (n != 0)
			return n;
	} while (mono_ns() < until);
	/* The sleep's timeout counts from now. */
	clock_update();
	return 0;
}

void ev_run_once(void)
{
	struct epoll_event events[EV_BATCH];
	int n, i;

	n = busy_poll(events);
	if (n == 0)
		n = epoll_wait(epfd, events, EV_BATCH, next_timeout());
	clock_update();
	if (n < 0) {
		if (errno != EINTR)
			log_errno(LL_ALERT, errno, "epoll_wait() failed");
		n = 0;
	}
	for (i = 0; i < n; i++) {
		struct ev_io *io = events[i].data.ptr;
		uint32_t e = events[i].events;

		/* Closed earlier in this batch by another callback. Objects
		 * holding an ev_io live in free lists and are never freed,
		 * so the pointer is still safe to read. */
		if (io->fd < 0)
			continue;
		if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			io->readable = 1;
		if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR))
			io->writable = 1;
		if (e & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			io->hup = 1;
		io->cb(io, e);
	}
	/* The work the events brought runs before the timers: an answer that
	 * came in the same turn as its timeout still counts. */
	run_tasks();
	run_timers();
	run_tasks();
}
