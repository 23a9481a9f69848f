/*
 * worker.c: a worker process's life: set up, serve, stop.
 */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <time.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>

#include "log.h"
#include "channel.h"
#include "privs.h"
#include "syslog.h"
#include "tls.h"
#include "access_log.h"
#include "checker.h"
#include "context.h"
#include "event.h"
#include "exchange.h"
#include "session.h"
#include "upstream.h"
#include "worker.h"

/* Exit status telling the master that setting up failed, so respawning
 * at once would only fail again. */
#define WORKER_EXIT_SETUP 2

/* What the request path reads of this process. */
static struct worker_ctx ctx;

struct listener {
	struct ev_io io;
	const struct conf_listen *conf;
};

static struct listener *listeners;
static unsigned nlisteners;
static bool listeners_paused;
static struct ev_timer resume_timer;
static struct ev_io signal_io, channel_io;
static struct ev_timer shutdown_timer;
static struct logfiles *logs;
static bool quitting, terminating;
static bool checking;			/* this process is the checker */

static void setup_failed(const char *what, const char *why)
{
	log_msg(LL_EMERG, "%s: %s", what, why);
	exit(WORKER_EXIT_SETUP);
}

static void listeners_watch(bool on)
{
	unsigned i;

	for (i = 0; i < nlisteners; i++) {
		if (listeners[i].io.fd < 0)
			continue;
		if (!on)
			ev_del(&listeners[i].io);
		else if (ev_add_listener(&listeners[i].io, true) < 0)
			log_errno(LL_ALERT, errno, "epoll_ctl(ADD) of listener %s failed",
				  listeners[i].conf->address);
	}
	listeners_paused = !on;
}

static void resume_accepting(struct ev_timer *t)
{
	(void)t;
	if (!quitting)
		listeners_watch(true);
}

/* Out of descriptors: stop accepting for a moment instead of spinning on
 * a listener that stays readable. */
static void pause_accepting(int err)
{
	log_errno(LL_ERROR, err, "accept() failed, pausing accepts for 100ms");
	listeners_watch(false);
	ev_timer_set(&resume_timer, 100);
}

static void accept_event(struct ev_io *io, uint32_t events)
{
	struct listener *l = (struct listener *)io;
	unsigned i;

	(void)events;
	for (i = 0; i < 64 && !listeners_paused; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd;

		fd = accept4(io->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
				return;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				pause_accepting(errno);
			else
				log_errno(LL_ERROR, errno, "accept() on %s failed", l->conf->address);
			return;
		}
		if (session_count() + upstream_open_count() >= ctx.conf->worker_connections) {
			log_msg(LL_WARN, "%u worker_connections are not enough, closing a new connection",
				ctx.conf->worker_connections);
			close(fd);
			continue;
		}
		session_accept(fd, l->conf, (struct sockaddr *)&ss);
	}
}

static void close_listeners(void)
{
	unsigned i;

	/* The master and the next generation hold the same sockets, so a
	 * close() alone would leave them registered in our epoll, taking
	 * exclusive wake-ups that nobody here acts on. */
	if (!listeners_paused)
		listeners_watch(false);
	ev_timer_del(&resume_timer);
	for (i = 0; i < nlisteners; i++) {
		if (listeners[i].io.fd < 0)
			continue;
		close(listeners[i].io.fd);
		listeners[i].io.fd = -1;
	}
}

static void shutdown_timeout(struct ev_timer *t)
{
	(void)t;
	log_msg(LL_WARN, "shutdown_timeout reached, closing %u connections", session_count());
	session_kill_all();
	terminating = true;
}

static void begin_graceful_stop(const char *why)
{
	if (quitting)
		return;
	quitting = true;
	if (checking) {
		/* A check cut short proves nothing: just stop. */
		log_msg(LL_INFO, "%s: stopping health checks", why);
		checker_stop();
		terminating = true;
		return;
	}
	log_msg(LL_INFO, "%s: gracefully stopping, %u connections open", why, session_count());
	ctx.quitting = true;
	close_listeners();
	session_quit_all();
	upstream_close_idle();
	shutdown_timer.cb = shutdown_timeout;
	ev_timer_set(&shutdown_timer, ctx.conf->shutdown_timeout);
}

static void signal_event(struct ev_io *io, uint32_t events)
{
	struct signalfd_siginfo si;

	(void)events;
	while (read(io->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGQUIT:
			begin_graceful_stop("SIGQUIT received");
			break;
		case SIGTERM:
		case SIGINT:
			terminating = true;
			break;
		default:
			break;
		}
	}
}

static void reopen_logs(const int *fds, unsigned nfds)
{
	unsigned i;

	if (nfds != logs->n) {
		log_msg(LL_ALERT, "reopen message carried %u log files, expected %u", nfds, logs->n);
		for (i = 0; i < nfds; i++)
			close(fds[i]);
		return;
	}
	access_log_replace_fds(fds);
	for (i = 0; i < nfds; i++) {
		close(logs->fds[i]);
		logs->fds[i] = fds[i];
	}
	log_use_fd(logfiles_error_fd(logs));
	logfiles_close_syslogs(logs);
	log_msg(LL_INFO, "log files reopened");
}

static void channel_event(struct ev_io *io, uint32_t events)
{
	int fds[CHANNEL_MAX_FDS];
	unsigned nfds;
	int type;

	(void)events;
	for (;;) {
		type = channel_recv(io->fd, fds, CHANNEL_MAX_FDS, &nfds);
		if (type == CHANNEL_REOPEN_LOGS) {
			reopen_logs(fds, nfds);
			continue;
		}
		if (type < 0 && errno == EAGAIN)
			return;
		if (type <= 0) {
			/* The master is gone: nobody will respawn or stop us. */
			ev_del(io);
			begin_graceful_stop("master process gone");
			return;
		}
		log_msg(LL_ALERT, "unknown channel message %d", type);
	}
}

static void pin_to_cpu(unsigned index)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t set;

	if (ncpu < 1)
		return;
	CPU_ZERO(&set);
	CPU_SET(index % (unsigned)ncpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		log_errno(LL_WARN, errno, "sched_setaffinity(CPU %u) failed", index % (unsigned)ncpu);
}

/* Raising the hard limit needs root, so this comes before the drop; a
 * failure leaves a worker that still serves, with fewer connections. */
static void set_nofile_limit(unsigned want)
{
	struct rlimit rl = { want, want };

	if (want != 0 && setrlimit(RLIMIT_NOFILE, &rl) < 0)
		log_errno(LL_ALERT, errno, "setrlimit(RLIMIT_NOFILE, %u) failed", want);
}

static void check_nofile_limit(unsigned connections)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    connections > rl.rlim_cur)
		log_msg(LL_WARN, "%u worker_connections exceed the open file limit of %lu; "
			"raise it with worker_rlimit_nofile", connections,
			(unsigned long)rl.rlim_cur);
}

static void setup_listeners(const struct worker_args *a)
{
	unsigned i;

	nlisteners = a->conf->nlistens;
	listeners = calloc(nlisteners ? nlisteners : 1, sizeof(*listeners));
	if (listeners == NULL)
		setup_failed("worker setup", "out of memory");
	for (i = 0; i < nlisteners; i++) {
		listeners[i].io.fd = a->listen_fds[i];
		listeners[i].io.cb = accept_event;
		listeners[i].conf = &a->conf->listens[i];
	}
	resume_timer.cb = resume_accepting;
	listeners_watch(true);
}

static void setup_control(int channel_fd)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGWINCH);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal_io.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (signal_io.fd < 0)
		setup_failed("signalfd() failed", strerror(errno));
	signal_io.cb = signal_event;
	if (ev_add_listener(&signal_io, false) < 0)
		setup_failed("epoll_ctl(ADD) of the signalfd failed", strerror(errno));
	channel_io.fd = channel_fd;
	channel_io.cb = channel_event;
	if (ev_add_listener(&channel_io, false) < 0)
		setup_failed("epoll_ctl(ADD) of the channel failed", strerror(errno));
}

/* The context of the request path; counts privately when the master
 * found no room for our record. */
static void setup_context(const struct worker_args *a)
{
	size_t size = sizeof(*ctx.stats) + a->conf->nservers * sizeof(int32_t);

	ctx.conf = a->conf;
	ctx.peers = a->peers;
	ctx.stats_zone = a->stats_zone;
	ctx.stats_root = a->stats_root;
	ctx.tls_cache = a->tls_cache;
	ctx.auth_cache = a->auth_cache;
	ctx.caches = a->caches;
	ctx.limits = a->limits;
	ctx.logs = a->logs;
	ctx.head_limits = (struct http_limits){
		.max_request_line = a->conf->max_request_line,
		.max_header_line = a->conf->max_header_line,
		.max_head = a->conf->header_buffer_size,
		.max_headers = a->conf->client_max_header_fields,
	};
	ctx.stats = a->stats;
	if (ctx.stats == NULL && (ctx.stats = calloc(1, size)) == NULL)
		setup_failed("worker setup", "out of memory");
	syslog_count_drops_in(&ctx.stats->c.syslog_dropped);
}

static void start_checker(const struct conf *conf)
{
	checking = true;
	if (checker_start(conf, ctx.peers) < 0)
		setup_failed("starting health checks", strerror(errno));
}

void worker_main(const struct worker_args *a)
{
	char role[32], err[256];

	logs = a->logs;
	if (a->checker)
		snprintf(role, sizeof(role), "checker");
	else
		snprintf(role, sizeof(role), "worker %u", a->index);
	log_set_role(role);
	prctl(PR_SET_NAME, a->checker ? "portico-checker" : "portico-worker", 0, 0, 0);
	if (a->conf->cpu_affinity && !a->checker)
		pin_to_cpu(a->index);
	set_nofile_limit(a->conf->worker_rlimit_nofile);
	tzset();			/* log times need /etc/localtime, not in a chroot */
	if (privs_drop(a->conf->user, a->conf->user_explicit, a->conf->chroot, err,
		       sizeof(err)) < 0)
		setup_failed("dropping privileges", err);
	if (!a->checker)
		check_nofile_limit(a->conf->worker_connections);

	if (ev_init() < 0)
		setup_failed("epoll_create1() failed", strerror(errno));
	buf_pool_init(MAX(a->conf->header_buffer_size + 4096, (size_t)16384));
	setup_context(a);
	/* The checker makes client connections only: no site to pick. */
	tls_worker_init(a->tls_cache, a->checker ? NULL : session_site_by_sni);
	if (!a->checker && (exchange_init(&ctx) < 0 || session_init(&ctx) < 0))
		setup_failed("worker setup", "out of memory");
	setup_control(a->channel_fd);
	if (a->checker) {
		start_checker(a->conf);
	} else {
		setup_listeners(a);
		ev_set_busy_poll(a->conf->busy_poll);
	}
	log_msg(LL_DEBUG, "worker started");

	while (!terminating && !(quitting && session_count() == 0))
		ev_run_once();
	ev_run_queued();

	access_log_flush();
	log_msg(LL_INFO, "worker exiting, %u connections open", session_count());
	exit(0);
}
