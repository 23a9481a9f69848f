/*
 * master.c: supervision and signals.
 *
 * The master runs no event loop: it waits in sigtimedwait() for a signal
 * or the next deadline (a respawn, a straggler to kill), acts, and waits
 * again.
 *
 * A binary upgrade (USR2) forks a new master that execs the binary with
 * the listening sockets inherited. The old master stays its parent, so
 * it learns when the new one fails and takes its pid file back.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "log.h"
#include "channel.h"
#include "logfiles.h"
#include "listen.h"
#include "master.h"
#include "process.h"
#include "shared.h"
#include "syslog.h"

#define RESPAWN_BACKOFF_MIN 100		/* ms */
#define RESPAWN_BACKOFF_MAX 30000
#define STABLE_AFTER 10000		/* a worker this old resets its back-off */
#define FAST_STOP_GRACE 3000		/* TERM, then KILL after this */
#define QUIT_GRACE 2000			/* past shutdown_timeout, then KILL */
#define LISTEN_FDS_ENV "PORTICO_LISTEN_FDS"

struct proc {
	pid_t pid;
	int channel;
	unsigned generation;
	unsigned slot;
	uint64_t started;
	uint64_t kill_at;		/* 0, or when to SIGKILL a straggler */
	struct shared *sh;		/* what it was forked with */
	struct stats_proc *rec;		/* its stats record, or NULL */
};

struct slot {
	unsigned backoff;		/* ms before the next respawn */
	uint64_t respawn_at;		/* 0 = no respawn pending */
};

static struct conf *conf;
static const char *conf_path;
static int *listen_fds;
static struct logfiles *logs;
static unsigned generation;
static struct proc *procs;
static unsigned nprocs, procs_cap;
static struct slot *slots;
static unsigned nslots;			/* the workers, then the checker */
static struct shared *shared;
static unsigned reload_serial;
static bool stopping;
static bool workers_stopped;		/* by WINCH, until HUP */
static bool has_terminal;		/* WINCH is then a window resize */
static const char *exe_path;		/* what USR2 executes */
static bool foreground;
static pid_t new_master;		/* started by our USR2, while it runs */
static pid_t old_master;		/* whose USR2 started us, or 0 */
static uint64_t next_key_rotation;	/* TLS ticket keys; 0: no TLS */
static uint64_t syslog_dropped;		/* by the master, not yet in the stats */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void master_verdict_path(const struct conf *c, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s.reload", c->pid_file);
}

static void write_verdict(bool ok, const char *errors)
{
	char path[4096], tmp[4200];
	FILE *f;

	reload_serial++;
	master_verdict_path(conf, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (f == NULL) {
		log_errno(LL_ERROR, errno, "fopen(\"%s\") failed", tmp);
		return;
	}
	fprintf(f, "%ld.%u %s\n%s", (long)getpid(), reload_serial, ok ? "ok" : "failed",
		errors ? errors : "");
	if (fclose(f) != 0 || rename(tmp, path) < 0) {
		log_errno(LL_ERROR, errno, "writing \"%s\" failed", path);
		unlink(tmp);
	}
}

int master_read_verdict(const char *path, char *line, size_t len, char **rest)
{
	static char text[65536];
	FILE *f = fopen(path, "r");
	size_t n;
	char *eol;

	if (f == NULL)
		return -1;
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	eol = strchr(text, '\n');
	if (eol == NULL)
		return -1;
	*eol = '\0';
	n = MIN((size_t)(eol - text), len - 1);
	memcpy(line, text, n);
	line[n] = '\0';
	*rest = eol + 1;
	return 0;
}

static struct proc *proc_add(void)
{
	if (nprocs == procs_cap) {
		unsigned cap = procs_cap ? 2 * procs_cap : 16;
		struct proc *p = realloc(procs, cap * sizeof(*p));

		if (p == NULL)
			return NULL;
		procs = p;
		procs_cap = cap;
	}
	memset(&procs[nprocs], 0, sizeof(procs[0]));
	return &procs[nprocs++];
}

static void proc_remove(struct proc *p)
{
	if (p->channel >= 0)
		close(p->channel);
	if (p->rec != NULL)
		shared_proc_exited(p->sh, p->rec, shared);
	*p = procs[--nprocs];
}

static bool needs_checker(const struct conf *c)
{
	unsigned i;

	for (i = 0; i < c->nupstreams; i++)
		if (c->upstreams[i].health_check != NULL)
			return true;
	return false;
}

/* "worker 3" or "checker", for the log. */
static const char *slot_name(unsigned slot)
{
	static char name[32];

	if (slot == conf->workers)
		return "checker";
	snprintf(name, sizeof(name), "worker %u", slot);
	return name;
}

static void spawn(unsigned slot)
{
	struct worker_args args = {
		.conf = conf, .index = slot, .channel_fd = -1,
		.listen_fds = listen_fds, .logs = logs,
		.checker = slot == conf->workers, .peers = shared->peers,
		.stats_zone = shared_stats_zone(shared),
		.stats_root = shared_stats_root(shared),
		.tls_cache = shared_tls_cache(shared),
		.auth_cache = shared_auth_cache(shared),
		.caches = shared->stores,
		.limits = shared->limits,
	};
	struct proc *p = proc_add();
	int channel;
	pid_t pid;

	if (p == NULL) {
		log_msg(LL_ALERT, "out of memory spawning %s", slot_name(slot));
		return;
	}
	if (args.checker)
		args.listen_fds = NULL;
	args.stats = shared_proc_new(shared, generation);
	pid = process_spawn_worker(&args, &channel);
	if (pid < 0) {
		log_errno(LL_ALERT, errno, "fork() of %s failed", slot_name(slot));
		if (args.stats != NULL)
			shared_proc_exited(shared, args.stats, shared);
		nprocs--;
		slots[slot].respawn_at = now_ms() + RESPAWN_BACKOFF_MAX / 10;
		return;
	}
	p->pid = pid;
	p->channel = channel;
	p->generation = generation;
	p->slot = slot;
	p->started = now_ms();
	p->sh = shared;
	p->rec = args.stats;
	if (p->rec != NULL)
		p->rec->pid = pid;
	slots[slot].respawn_at = 0;
	log_msg(LL_INFO, "started %s, pid %ld", slot_name(slot), (long)pid);
}

static int spawn_generation(void)
{
	unsigned i;

	free(slots);
	nslots = conf->workers + (needs_checker(conf) ? 1 : 0);
	slots = calloc(nslots, sizeof(*slots));
	if (slots == NULL)
		return -1;
	for (i = 0; i < nslots; i++) {
		slots[i].backoff = RESPAWN_BACKOFF_MIN;
		spawn(i);
	}
	return 0;
}

/* Signal a worker, and make sure it is killed if it lingers past
 * kill_after ms (an earlier, closer deadline stands). */
static void signal_proc(struct proc *p, int sig, uint64_t kill_after)
{
	kill(p->pid, sig);
	if (p->kill_at == 0)
		p->kill_at = now_ms() + kill_after;
}

static void signal_generation(unsigned gen, int sig, uint64_t kill_after)
{
	unsigned i;

	for (i = 0; i < nprocs; i++)
		if (procs[i].generation == gen)
			signal_proc(&procs[i], sig, kill_after);
}

static void signal_all(int sig, uint64_t kill_after)
{
	unsigned i;

	for (i = 0; i < nprocs; i++)
		signal_proc(&procs[i], sig, kill_after);
}

static void start_workers_again(const char *why)
{
	log_msg(LL_NOTICE, "%s: starting workers again", why);
	workers_stopped = false;
	generation++;
	if (spawn_generation() < 0)
		log_msg(LL_ALERT, "out of memory starting generation %u", generation);
}

static void stop_workers(void)
{
	unsigned i;

	if (has_terminal) {
		log_msg(LL_INFO, "SIGWINCH ignored: running on a terminal, it means a resize");
		return;
	}
	log_msg(LL_NOTICE, "SIGWINCH received, stopping workers gracefully");
	workers_stopped = true;
	for (i = 0; i < nslots; i++)
		slots[i].respawn_at = 0;
	signal_all(SIGQUIT, conf->shutdown_timeout + QUIT_GRACE);
}

/* The master's figures in the stats zone, for the metrics; a reload may
 * have made the zone anew (the totals came with it). */
static void note_serving(void)
{
	struct stats_master *m = shared_master_stats(shared);

	__atomic_store_n(&m->generation, (uint64_t)generation, __ATOMIC_RELAXED);
	__atomic_store_n(&m->workers, (uint64_t)conf->workers, __ATOMIC_RELAXED);
}

static void schedule_respawn(struct proc *p)
{
	struct slot *s = &slots[p->slot];
	uint64_t now = now_ms();

	if (now - p->started >= STABLE_AFTER)
		s->backoff = RESPAWN_BACKOFF_MIN;
	s->respawn_at = now + s->backoff;
	if (p->slot < conf->workers)
		STATS_ADD(shared_master_stats(shared), worker_restarts, 1);
	if (s->backoff > RESPAWN_BACKOFF_MIN)
		log_msg(LL_WARN, "%s keeps exiting, respawning in %u ms", slot_name(p->slot),
			s->backoff);
	s->backoff = MIN(s->backoff * 2, (unsigned)RESPAWN_BACKOFF_MAX);
}

static void log_exit(const char *who, pid_t pid, int status)
{
	if (WIFSIGNALED(status))
		log_msg(LL_ALERT, "%s (pid %ld) killed by signal %d%s", who, (long)pid,
			WTERMSIG(status), WCOREDUMP(status) ? " (core dumped)" : "");
	else if (WEXITSTATUS(status) != 0)
		log_msg(LL_ALERT, "%s (pid %ld) exited with status %d", who, (long)pid,
			WEXITSTATUS(status));
	else
		log_msg(LL_INFO, "%s (pid %ld) exited", who, (long)pid);
}

static void oldbin_path(char *out, size_t outlen)
{
	snprintf(out, outlen, "%s.oldbin", conf->pid_file);
}

/* A failed upgrade or a rollback: the pid file names us again, and if
 * WINCH had stopped our workers, nobody would serve without them. */
static void new_master_exited(int status)
{
	char oldbin[4096];

	log_exit("new master", new_master, status);
	new_master = 0;
	oldbin_path(oldbin, sizeof(oldbin));
	if (rename(oldbin, conf->pid_file) < 0)
		log_errno(LL_ERROR, errno, "renaming \"%s\" back to \"%s\" failed", oldbin,
			  conf->pid_file);
	else
		log_msg(LL_NOTICE, "binary upgrade undone, this master (pid %ld) owns \"%s\" again",
			(long)getpid(), conf->pid_file);
	if (workers_stopped && !stopping)
		start_workers_again("the new master is gone");
}

static struct proc *proc_by_pid(pid_t pid)
{
	unsigned i;

	for (i = 0; i < nprocs; i++)
		if (procs[i].pid == pid)
			return &procs[i];
	return NULL;
}

static void reap(void)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct proc *p = proc_by_pid(pid);
		bool unexpected;

		if (pid == new_master)
			new_master_exited(status);
		if (p == NULL)
			continue;
		unexpected = p->generation == generation && !stopping && !workers_stopped &&
			     p->kill_at == 0;
		if (unexpected || status != 0)
			log_exit(slot_name(p->slot), p->pid, status);
		else
			log_msg(LL_INFO, "%s (pid %ld) of generation %u exited",
				p->generation == generation ? slot_name(p->slot) : "child",
				(long)p->pid, p->generation);
		if (unexpected)
			schedule_respawn(p);
		/* A worker that exits cleanly has let go of what it wrote. */
		if (status != 0)
			cache_zones_reap(p->sh->caches, p->sh->ncaches, pid);
		limit_zones_reap(p->sh->limit_refs, p->sh->nlimits, pid);
		proc_remove(p);
	}
}

/* Ticket keys rotate every tls_ticket_key_rotation (and on reload, when
 * the shared state is made anew: the schedule restarts then); keys read
 * from the operator's files are the operator's to rotate. */
static void schedule_key_rotation(uint64_t now)
{
	next_key_rotation = shared_tls_cache(shared) && conf->ntls_ticket_keys == 0 ?
			    now + conf->tls_ticket_key_rotation : 0;
}

static void rotate_ticket_keys(uint64_t now)
{
	shared_rotate_ticket_keys(shared);
	schedule_key_rotation(now);
}

/* Kill stragglers, respawn and rotate what is due; returns ms to the next
 * due. */
static int run_deadlines(void)
{
	uint64_t now = now_ms(), next = UINT64_MAX;
	unsigned i;

	for (i = 0; i < nprocs; i++) {
		if (procs[i].kill_at == 0)
			continue;
		if (procs[i].kill_at <= now) {
			log_msg(LL_WARN, "worker pid %ld did not exit in time, killing it",
				(long)procs[i].pid);
			kill(procs[i].pid, SIGKILL);
			procs[i].kill_at = now + 1000;
		}
		next = MIN(next, procs[i].kill_at);
	}
	for (i = 0; !stopping && !workers_stopped && i < nslots; i++) {
		if (slots[i].respawn_at == 0)
			continue;
		if (slots[i].respawn_at <= now)
			spawn(i);
		if (slots[i].respawn_at != 0)
			next = MIN(next, slots[i].respawn_at);
	}
	if (next_key_rotation != 0 && !stopping) {
		if (next_key_rotation <= now)
			rotate_ticket_keys(now);
		next = MIN(next, next_key_rotation);
	}
	if (next == UINT64_MAX)
		return -1;
	return next <= now ? 0 : (int)MIN(next - now, (uint64_t)60000);
}

static void log_errors(const char *prefix, const char *errors)
{
	const char *line = errors;

	while (line && *line) {
		const char *eol = strchr(line, '\n');
		int len = eol ? (int)(eol - line) : (int)strlen(line);

		log_msg(LL_ERROR, "%s%.*s", prefix, len, line);
		line = eol ? eol + 1 : NULL;
	}
}

static void refuse_reload(struct conf *nc, const char *errors)
{
	log_errors("reload refused: ", errors);
	write_verdict(false, errors);
	if (nc != NULL)
		conf_free(nc);
}

/* The error log of the set: its file, or its syslog destination. */
static void log_use_error_log(struct logfiles *lf)
{
	log_use_fd(logfiles_error_fd(lf));
	log_use_syslog(lf->error_syslog);
}

/* The master has no stats record: what it counted itself goes into the
 * retired totals, where the status page adds it up. */
static void fold_own_counts(void)
{
	if (syslog_dropped == 0)
		return;
	shared_count_master(shared, syslog_dropped);
	syslog_dropped = 0;
}

static bool reload(void)
{
	char err[512], *errors = NULL;
	struct logfiles *nlogs;
	struct shared *nsh;
	struct conf *nc;
	unsigned old_gen = generation;
	int *nfds;

	log_msg(LL_NOTICE, "SIGHUP received, reloading %s", conf_path);
	nc = conf_load(conf_path, CONF_CHECK_FILES, &errors);
	if (nc == NULL) {
		refuse_reload(NULL, errors);
		free(errors);
		return false;
	}
	nlogs = logfiles_open(nc, err, sizeof(err));
	if (nlogs == NULL) {
		refuse_reload(nc, err);
		return false;
	}
	nsh = shared_create(nc, shared, err, sizeof(err));
	if (nsh == NULL) {
		logfiles_free(nlogs);
		refuse_reload(nc, err);
		return false;
	}
	nfds = listen_open_all(nc, conf, listen_fds, err, sizeof(err));
	if (nfds == NULL) {
		shared_put(nsh);
		logfiles_free(nlogs);
		refuse_reload(nc, err);
		return false;
	}
	/* The new generation starts before the old one is told to stop, so
	 * some worker accepts connections at every moment. */
	shared_take_over(nsh, shared);
	listen_close_unused(conf, listen_fds, nc, nfds);
	free(listen_fds);
	listen_fds = nfds;
	log_use_error_log(nlogs);
	logfiles_free(logs);
	logs = nlogs;
	log_set_level(nc->log_level);
	shared_put(shared);
	shared = nsh;
	conf_free(conf);
	conf = nc;
	schedule_key_rotation(now_ms());
	generation++;
	workers_stopped = false;
	STATS_ADD(shared_master_stats(shared), reloads, 1);
	note_serving();
	if (spawn_generation() < 0)
		log_msg(LL_ALERT, "out of memory starting generation %u", generation);
	signal_generation(old_gen, SIGQUIT, conf->shutdown_timeout + QUIT_GRACE);
	write_verdict(true, NULL);
	log_msg(LL_NOTICE, "configuration reloaded, generation %u started", generation);
	return true;
}

static void reopen_logs(void)
{
	int fds[CHANNEL_MAX_FDS];
	char err[512];
	unsigned i;

	if (logs->n > CHANNEL_MAX_FDS) {
		log_msg(LL_ERROR, "too many log files (%u) to reopen, at most %d", logs->n,
			CHANNEL_MAX_FDS);
		return;
	}
	if (logfiles_reopen(logs, fds, err, sizeof(err)) < 0) {
		log_msg(LL_ERROR, "reopening logs failed: %s", err);
		return;
	}
	for (i = 0; i < logs->n; i++) {
		close(logs->fds[i]);
		logs->fds[i] = fds[i];
	}
	log_use_error_log(logs);
	/* A syslog receiver is connected again too, on the next line. */
	logfiles_close_syslogs(logs);
	/* Older generations are draining with the log files of their own
	 * configuration; they finish in the renamed files. */
	for (i = 0; i < nprocs; i++)
		if (procs[i].generation == generation &&
		    channel_send(procs[i].channel, CHANNEL_REOPEN_LOGS, logs->fds, logs->n) < 0)
			log_errno(LL_ERROR, errno, "sending reopened logs to worker pid %ld failed",
				  (long)procs[i].pid);
	log_msg(LL_NOTICE, "log files reopened");
}

static int listen_fd_at(const void *fds, unsigned i)
{
	return ((const int *)fds)[i];
}

/* Runs in the forked child: exec the binary with the listeners marked
 * inheritable and named in the environment. */
static void exec_new_binary(void)
{
	char *argv[6];
	unsigned argc = 0;

	process_export_fds(LISTEN_FDS_ENV, listen_fds, conf->nlistens, listen_fd_at);
	cache_zones_export(shared->caches, shared->ncaches);
	limit_zones_export(shared->limit_refs, shared->nlimits);
	/* What the new binary says before its own log is open (a bad
	 * configuration, say) lands in ours, where the operator looks. */
	if (!foreground && logfiles_error_fd(logs) >= 0)
		dup2(logfiles_error_fd(logs), STDERR_FILENO);
	argv[argc++] = (char *)exe_path;
	argv[argc++] = "-c";
	argv[argc++] = (char *)conf_path;
	if (foreground)
		argv[argc++] = "-F";
	argv[argc] = NULL;
	execv(exe_path, argv);
	log_errno(LL_ALERT, errno, "binary upgrade: execv(\"%s\") failed", exe_path);
	_exit(1);
}

static bool upgrade_in_progress(void)
{
	if (new_master != 0) {
		log_msg(LL_ERROR, "binary upgrade refused: new master pid %ld is running",
			(long)new_master);
		return true;
	}
	if (old_master != 0 && getppid() == old_master) {
		log_msg(LL_ERROR, "binary upgrade refused: the old master pid %ld still runs; "
			"send it QUIT first", (long)old_master);
		return true;
	}
	return false;
}

static void upgrade(void)
{
	char oldbin[4096];
	pid_t pid;

	log_msg(LL_NOTICE, "SIGUSR2 received, starting %s", exe_path);
	if (upgrade_in_progress())
		return;
	oldbin_path(oldbin, sizeof(oldbin));
	if (rename(conf->pid_file, oldbin) < 0) {
		log_errno(LL_ERROR, errno, "binary upgrade refused: renaming \"%s\" to \"%s\" failed",
			  conf->pid_file, oldbin);
		return;
	}
	pid = fork();
	if (pid == 0)
		exec_new_binary();
	if (pid < 0) {
		log_errno(LL_ALERT, errno, "binary upgrade: fork() failed");
		if (rename(oldbin, conf->pid_file) < 0)
			log_errno(LL_ERROR, errno, "renaming \"%s\" back failed", oldbin);
		return;
	}
	new_master = pid;
	STATS_ADD(shared_master_stats(shared), upgrades, 1);
	log_msg(LL_NOTICE, "binary upgrade: new master pid %ld started", (long)pid);
}

/* HUP: a reload, which also brings back workers that WINCH stopped;
 * during an upgrade it is the rollback, with the configuration we run. */
static void hangup(void)
{
	if (workers_stopped && new_master != 0)
		start_workers_again("SIGHUP received during a binary upgrade");
	else if (!reload() && workers_stopped)
		start_workers_again("reload refused");
}

static void handle_signal(int sig)
{
	switch (sig) {
	case SIGCHLD:
		reap();
		break;
	case SIGHUP:
		if (!stopping)
			hangup();
		break;
	case SIGUSR1:
		reopen_logs();
		break;
	case SIGUSR2:
		if (!stopping)
			upgrade();
		break;
	case SIGWINCH:
		if (!stopping && !workers_stopped)
			stop_workers();
		break;
	case SIGQUIT:
		log_msg(LL_NOTICE, "SIGQUIT received, stopping gracefully");
		stopping = true;
		signal_all(SIGQUIT, conf->shutdown_timeout + QUIT_GRACE);
		break;
	case SIGTERM:
	case SIGINT:
		log_msg(LL_NOTICE, "signal %d received, stopping", sig);
		stopping = true;
		signal_all(SIGTERM, FAST_STOP_GRACE);
		break;
	default:
		break;
	}
}

static void block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGCHLD);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGQUIT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGUSR1);
	sigaddset(set, SIGUSR2);
	sigaddset(set, SIGWINCH);
	sigprocmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static int supervise(void)
{
	sigset_t set;

	block_signals(&set);
	if (spawn_generation() < 0) {
		log_msg(LL_EMERG, "out of memory starting workers");
		return 1;
	}
	for (;;) {
		int timeout = run_deadlines();
		struct timespec ts = { 60, 0 };
		int sig;

		if (stopping && nprocs == 0)
			break;
		if (timeout >= 0) {
			ts.tv_sec = timeout / 1000;
			ts.tv_nsec = (long)(timeout % 1000) * 1000000;
		}
		sig = sigtimedwait(&set, NULL, &ts);
		if (sig > 0)
			handle_signal(sig);
		fold_own_counts();
	}
	return 0;
}

/* Inherited from the master of a binary upgrade, or bound here. */
static int *open_listeners(char *err, size_t errlen)
{
	const char *spec = getenv(LISTEN_FDS_ENV);
	struct inherited *in;
	unsigned n;
	int *fds;

	if (spec == NULL)
		return listen_open_all(conf, NULL, NULL, err, errlen);
	old_master = getppid();
	in = calloc(strlen(spec) / 2 + 1, sizeof(*in));
	if (in == NULL) {
		snprintf(err, errlen, "out of memory for inherited sockets");
		return NULL;
	}
	n = listen_parse_inherited(spec, in, (unsigned)(strlen(spec) / 2 + 1));
	/* Not for our workers, nor for a later upgrade of ours. */
	unsetenv(LISTEN_FDS_ENV);
	log_msg(LL_NOTICE, "binary upgrade: %u listening sockets inherited from master %ld", n,
		(long)old_master);
	fds = listen_take_inherited(conf, in, n, err, errlen);
	free(in);
	return fds;
}

static void remove_pid_file(void)
{
	char oldbin[4096];

	if (new_master == 0) {
		unlink(conf->pid_file);
		return;
	}
	oldbin_path(oldbin, sizeof(oldbin));
	unlink(oldbin);
}

/* The unix sockets' files go with the last master that serves on them:
 * not while a new master of a binary upgrade runs on the same sockets,
 * nor, in the new master, while the old one it would hand back to (a
 * rollback) still runs. */
static void remove_socket_files(void)
{
	if (new_master != 0 || (old_master != 0 && getppid() == old_master))
		return;
	listen_remove_files(conf);
}

/* The reload verdict goes with the master that wrote it; one written by
 * the new master of a binary upgrade, which shares the path, stays. */
static void remove_verdict(void)
{
	char path[4096], mine[32], line[128], *rest;
	size_t n;

	master_verdict_path(conf, path, sizeof(path));
	n = (size_t)snprintf(mine, sizeof(mine), "%ld.", (long)getpid());
	if (master_read_verdict(path, line, sizeof(line), &rest) == 0 &&
	    strncmp(line, mine, n) == 0 && unlink(path) < 0)
		log_errno(LL_ERROR, errno, "unlink(\"%s\") failed", path);
}

int master_run(struct conf *c, const char *path, const char *exe, bool fg)
{
	char err[512];
	int status;

	conf = c;
	conf_path = path;
	exe_path = exe;
	foreground = fg;
	has_terminal = fg && (isatty(STDIN_FILENO) || isatty(STDERR_FILENO));
	log_set_role("master");
	log_set_level(conf->log_level);
	logs = logfiles_open(conf, err, sizeof(err));
	if (logs == NULL) {
		log_msg(LL_EMERG, "%s", err);
		return 1;
	}
	/* Every line goes to the error log from here on; until the master
	 * has started, warnings and worse (a port in use) also go to stderr,
	 * which the operator, the init script or the journal reads. */
	syslog_count_drops_in(&syslog_dropped);
	log_use_error_log(logs);
	listen_fds = open_listeners(err, sizeof(err));
	if (listen_fds == NULL) {
		log_msg(LL_EMERG, "%s", err);
		return 1;
	}
	cache_zones_inherit();
	limit_zones_inherit();
	shared = shared_create(conf, NULL, err, sizeof(err));
	cache_zones_drop_inherited();
	limit_zones_drop_inherited();
	if (shared == NULL) {
		log_msg(LL_EMERG, "creating shared memory failed: %s", err);
		return 1;
	}
	schedule_key_rotation(now_ms());
	note_serving();
	/* A new master from an upgrade stays the old one's child, which is
	 * how the old one notices it failing. */
	if (!foreground && conf->daemon && old_master == 0 && process_daemonize() < 0) {
		log_errno(LL_EMERG, errno, "daemonizing failed");
		return 1;
	}
	prctl(PR_SET_NAME, "portico-master", 0, 0, 0);
	if (pidfile_write(conf->pid_file, getpid()) < 0) {
		log_errno(LL_EMERG, errno, "writing pid file \"%s\" failed", conf->pid_file);
		return 1;
	}
	/* From here on, the error log alone is where the operator looks. */
	log_set_console(-1);
	if (geteuid() != 0)
		log_msg(LL_NOTICE, "not running as root: user \"%s\" is ignored, workers run as uid %ld",
			conf->user, (long)getuid());
	log_msg(LL_NOTICE, "portico %s started, %u workers", PACKAGE_VERSION, conf->workers);
	status = supervise();
	remove_socket_files();
	remove_pid_file();
	remove_verdict();
	log_msg(LL_NOTICE, "exiting");
	return status;
}
