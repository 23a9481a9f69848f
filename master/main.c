/*
 * main.c: the command line.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <zlib.h>
#include <confuse.h>

#include "log.h"
#include "conf.h"
#include "master.h"
#include "process.h"

#define RELOAD_WAIT_MS 30000

struct options {
	const char *conf_file;
	const char *prefix;
	bool test;
	bool dump;
	bool quiet;
	bool foreground;
	const char *signal;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: portico [-c file] [-p prefix] [-t | -T] [-q] [-F]\n"
		"               [-s reload|stop|quit|reopen] [-V] [-h]\n"
		"  -c, --config file    configuration file (default %s)\n"
		"  -p, --prefix dir     take a relative -c file from dir\n"
		"  -t, --test           test the configuration and exit\n"
		"  -T                   test the configuration, print it and exit\n"
		"  -q, --quiet          print only errors (with -t, -T and -s reload)\n"
		"  -F, --foreground     stay in the foreground\n"
		"  -s, --signal signal  send a signal to the running master\n"
		"  -V, --version        print version and build options\n"
		"  -h, --help           print this help\n", CONF_DEFAULT_FILE);
}

static void print_version(void)
{
	char pcre2[64] = "";

	pcre2_config(PCRE2_CONFIG_VERSION, pcre2);
	printf("portico version %s\n", PACKAGE_VERSION);
	printf("built with %s, PCRE2 %s, zlib %s, libConfuse %s\n",
	       OpenSSL_version(OPENSSL_VERSION), pcre2, zlibVersion(), confuse_version);
	printf("configure arguments: %s\n", PORTICO_CONFIGURE_ARGS);
}

static void print_errors(const char *errors)
{
	const char *line = errors;

	while (line && *line) {
		const char *eol = strchr(line, '\n');
		int len = eol ? (int)(eol - line) : (int)strlen(line);

		fprintf(stderr, "portico: %.*s\n", len, line);
		line = eol ? eol + 1 : NULL;
	}
}

static struct conf *load_or_report(const char *file)
{
	char *errors = NULL;
	struct conf *conf = conf_load(file, CONF_CHECK_FILES, &errors);

	if (conf == NULL) {
		print_errors(errors);
		free(errors);
	}
	return conf;
}

static int test_config(const struct options *o)
{
	struct conf *conf = load_or_report(o->conf_file);

	if (conf == NULL) {
		fprintf(stderr, "portico: configuration file %s test failed\n", o->conf_file);
		return 1;
	}
	if (o->dump)
		conf_dump(conf, stdout);
	if (!o->quiet)
		fprintf(stderr, "portico: configuration file %s test is successful\n", o->conf_file);
	conf_free(conf);
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* Send HUP and wait for the master to say whether it took the new
 * configuration: a refused reload must not look like a successful one. */
static int reload_and_wait(const struct conf *conf, pid_t pid, bool quiet)
{
	char path[4096], before[128] = "", now[128];
	char *errors;
	long waited;

	master_verdict_path(conf, path, sizeof(path));
	master_read_verdict(path, before, sizeof(before), &errors);
	if (kill(pid, SIGHUP) < 0) {
		fprintf(stderr, "portico: kill(%ld, SIGHUP) failed: %s\n", (long)pid, strerror(errno));
		return 1;
	}
	for (waited = 0; waited < RELOAD_WAIT_MS; waited += 50) {
		sleep_ms(50);
		if (master_read_verdict(path, now, sizeof(now), &errors) < 0 ||
		    strcmp(now, before) == 0)
			continue;
		if (strstr(now, " ok") != NULL) {
			if (!quiet)
				fprintf(stderr, "portico: configuration reloaded by master %ld\n",
					(long)pid);
			return 0;
		}
		print_errors(errors);
		fprintf(stderr, "portico: reload refused, master %ld keeps its configuration\n",
			(long)pid);
		return 1;
	}
	fprintf(stderr, "portico: no answer from master %ld within %d s\n", (long)pid,
		RELOAD_WAIT_MS / 1000);
	return 1;
}

static int send_signal(const struct options *o)
{
	static const struct { const char *name; int sig; } sigs[] = {
		{ "reload", SIGHUP }, { "stop", SIGTERM }, { "quit", SIGQUIT },
		{ "reopen", SIGUSR1 },
	};
	struct conf *conf;
	size_t i;
	pid_t pid;
	int status = 1;

	for (i = 0; i < ARRAY_LEN(sigs); i++)
		if (strcmp(o->signal, sigs[i].name) == 0)
			break;
	if (i == ARRAY_LEN(sigs)) {
		fprintf(stderr, "portico: unknown signal \"%s\"\n", o->signal);
		return 1;
	}
	/* The configuration names the pid file; for a reload, it is also
	 * worth refusing here what the master would refuse. */
	conf = load_or_report(o->conf_file);
	if (conf == NULL) {
		fprintf(stderr, "portico: configuration file %s test failed%s\n", o->conf_file,
			sigs[i].sig == SIGHUP ? ", reload not attempted" : "");
		return 1;
	}
	pid = pidfile_read(conf->pid_file);
	if (pid < 0)
		fprintf(stderr, "portico: cannot read pid file \"%s\": %s\n", conf->pid_file,
			errno == EINVAL ? "invalid contents" : strerror(errno));
	else if (sigs[i].sig == SIGHUP)
		status = reload_and_wait(conf, pid, o->quiet);
	else if (kill(pid, sigs[i].sig) < 0)
		fprintf(stderr, "portico: kill(%ld, %s) failed: %s\n", (long)pid, o->signal,
			strerror(errno));
	else
		status = 0;
	conf_free(conf);
	return status;
}

static void parse_args(int argc, char **argv, struct options *o)
{
	/* nginx's short options, and the long forms operators type. */
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "prefix", required_argument, NULL, 'p' },
		{ "test", no_argument, NULL, 't' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "foreground", no_argument, NULL, 'F' },
		{ "signal", required_argument, NULL, 's' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int c;

	o->conf_file = CONF_DEFAULT_FILE;
	while ((c = getopt_long(argc, argv, "c:p:tTqFs:Vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': o->conf_file = optarg; break;
		case 'p': o->prefix = optarg; break;
		case 't': o->test = true; break;
		case 'T': o->test = o->dump = true; break;
		case 'q': o->quiet = true; break;
		case 'F': o->foreground = true; break;
		case 's': o->signal = optarg; break;
		case 'V': print_version(); exit(0);
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(1);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "portico: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		exit(1);
	}
	/* As nginx's -p: a relative path given on the command line is taken
	 * from the prefix; the configuration takes the paths in it from its
	 * own directory, so with a relative -c they are under the prefix too. */
	if (o->prefix != NULL && chdir(o->prefix) < 0) {
		fprintf(stderr, "portico: prefix \"%s\": %s\n", o->prefix, strerror(errno));
		exit(1);
	}
}

/* The binary's path now, while it names the file we run: a package
 * upgrade replaces the file, and USR2 must execute the replacement. */
static const char *own_binary(const char *argv0)
{
	static char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);

	if (n > 0) {
		path[n] = '\0';
		return path;
	}
	if (realpath(argv0, path) != NULL)
		return path;
	return argv0;
}

int main(int argc, char **argv)
{
	struct options o = { 0 };
	struct conf *conf;
	char *abs_path;
	const char *conf_path;
	int status;

	parse_args(argc, argv, &o);
	if (o.test)
		return test_config(&o);
	if (o.signal)
		return send_signal(&o);
	/* A daemon changes to "/": reloads must still find the file, and the
	 * paths in it are taken relative to its directory. */
	abs_path = realpath(o.conf_file, NULL);
	conf_path = abs_path ? abs_path : o.conf_file;
	conf = load_or_report(conf_path);
	if (conf == NULL) {
		fprintf(stderr, "portico: configuration file %s test failed\n", o.conf_file);
		free(abs_path);
		return 1;
	}
	status = master_run(conf, conf_path, own_binary(argv[0]), o.foreground);
	free(abs_path);
	return status;
}
