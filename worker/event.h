/*
 * event.h: the worker's event loop: edge-triggered epoll for file
 * descriptors, a binary heap of timers, and the cached clock.
 *
 * Owns: the epoll instance and the timer heap of this process. It knows
 * nothing of HTTP: callers register an ev_io or ev_timer with a callback.
 */
#ifndef PORTICO_EVENT_H
#define PORTICO_EVENT_H

#include <stdint.h>
#include <stdbool.h>

struct ev_io;
typedef void (*ev_io_cb)(struct ev_io *io, uint32_t events);

/* Whoever closes io->fd sets it to -1, and must keep the memory of the
 * ev_io valid for the rest of the loop iteration (free lists do). */
struct ev_io {
	int fd;
	ev_io_cb cb;
	/* Readiness as last seen. Edge-triggered epoll reports a change
	 * once, so I/O code clears a flag when a call returns EAGAIN and the
	 * loop sets it again on the next edge. */
	unsigned readable:1;
	unsigned writable:1;
	unsigned hup:1;		/* peer shut down its side or reset */
	unsigned out_armed:1;	/* EPOLLOUT is part of the registration */
};

struct ev_timer;
typedef void (*ev_timer_cb)(struct ev_timer *t);

struct ev_timer {
	uint64_t when;		/* ms, on the ev_now() clock */
	unsigned heap_index;	/* 0 = not armed */
	ev_timer_cb cb;
};

/*
 * Work posted to the run queue. I/O events and timers post the objects
 * they concern; the loop drains the queue after them, in posting order,
 * so no callback runs request work on the stack of another. A task posted
 * while the queue drains (a connection that finished one request and has
 * the next one buffered) goes to the back and runs in the same turn while
 * the turn's budget lasts, else in the next: one busy connection cannot
 * keep the loop from the others or from epoll.
 *
 *	static void session_run(struct ev_task *t)
 *	{
 *		struct session *s = container_of(t, struct session, task);
 *		...read what the socket has, act on it...
 *	}
 *	s->task.cb = session_run;	(once)
 *	ev_post(&s->task);		(from its I/O callback)
 */
struct ev_task;
typedef void (*ev_task_cb)(struct ev_task *t);

struct ev_task {
	struct ev_task *prev, *next;	/* in the queue while posted */
	ev_task_cb cb;
};

/* Queue t unless it is queued already. */
void ev_post(struct ev_task *t);

/* Take t off the queue, if it is there (before its owner goes away). */
void ev_cancel(struct ev_task *t);

static inline bool ev_posted(const struct ev_task *t)
{
	return t->next != NULL;
}

int ev_init(void);

/* Watch fd for input, edge-triggered, and for output too when want_out;
 * io->cb runs on events. */
int ev_add(struct ev_io *io, bool want_out);

/*
 * Be told when fd becomes writable. Output is watched only from the first
 * write that would block: with it always on, every ACK that frees send
 * buffer space would wake the loop for nothing.
 */
void ev_want_write(struct ev_io *io);

/* Watch a listening or control fd, level-triggered, for input only.
 * exclusive: wake one of the processes sharing fd, not all of them. */
int ev_add_listener(struct ev_io *io, bool exclusive);

void ev_del(struct ev_io *io);

/* Arm (or re-arm) t to fire ms from now. */
void ev_timer_set(struct ev_timer *t, uint64_t ms);
void ev_timer_del(struct ev_timer *t);

static inline bool ev_timer_armed(const struct ev_timer *t)
{
	return t->heap_index != 0;
}

/*
 * Before sleeping in epoll_wait(), ask for events without sleeping for up
 * to usec microseconds (0: never). The worker then pays for the spinning
 * in CPU time, but a packet arriving meanwhile needs no wake-up: neither
 * the scheduler's delay on this CPU nor the wake-up work (an interrupt to
 * another CPU, costly in a virtual machine) on the CPU that sent it.
 */
void ev_set_busy_poll(unsigned usec);

/* Milliseconds on a monotonic clock, read once per loop iteration. */
uint64_t ev_now(void);

/* The same clock in microseconds, for timings (the access log, ewma). */
uint64_t ev_now_us(void);

/* Run the queued tasks, and those they queue, until none is left (a
 * stopping worker lets its exchanges end before it exits). */
void ev_run_queued(void);

/* One turn: wait for events (not at all while tasks are queued), run
 * their callbacks and the tasks they queued, then the due timers and the
 * tasks those queued. */
void ev_run_once(void);

#endif
